import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/errors.js';
import { readSafetensors } from '../../src/readers/disk-safetensors.js';
import { MemoryTensor } from '../../src/tensor.js';
import { writeSafetensors } from '../../src/writers/disk-safetensors.js';
import { cli } from '../helpers/cli.js';
import { fixture } from '../helpers/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'hubert-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** One line on stderr, naming the code, and no stack trace. */
function expectOneLineError(stderr: string, code: string): void {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^hubert-convert: error\\[${code}\\]: `));
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('hubert-convert CLI', () => {
  it('prints its version and help with examples', () => {
    const version = cli(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(fixture('../package.json'), 'utf8')).version);
    const help = cli(['convert', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--onnx <variants>/);
    expect(help.stdout).toMatch(/Examples:/);
  });

  it('exits 2 on usage errors', () => {
    const r = cli(['convert', fixture('checkpoints/fairseq_base_dict.pt')]);
    expect(r.status).toBe(EXIT_CODES.usage);
    expect(r.stderr).toMatch(/--out/);
    expect(cli(['frobnicate']).status).toBe(EXIT_CODES.usage);
    expect(cli(['convert', fixture('checkpoints/fairseq_base_dict.pt'), '--out', join(work, 'x'), '--dtype', 'fp8']).status).toBe(EXIT_CODES.usage);
  });

  it('inspect --json prints one valid document with the tensor table and the globals', () => {
    const r = cli(['inspect', fixture('checkpoints/fairseq_base_dict.pt'), '--json']);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ schema: 'hubert-convert/inspect', version: 1, format: 'torch-zip', kind: 'fairseq-hubert', valuesScanned: true });
    const manifest = JSON.parse(readFileSync(fixture('expected/fairseq_base_dict.tensors.json'), 'utf8'));
    expect(report.tensors.map((t: { path: string }) => t.path).sort()).toEqual(manifest.map((t: { path: string }) => t.path).sort());
    expect(report.globals.map((g: { name: string }) => g.name)).toContain('fairseq.data.dictionary.Dictionary');
    expect(report.hfConfig.num_hidden_layers).toBe(2);
    expect(report.sourceConfig.encoder_layers).toBe(2);
  });

  it('inspect of a Hugging Face folder: its config, tensors by stored name, projection head, offers; .bin globals', () => {
    const out = join(work, 'inspect-folder');
    expect(cli(['convert', fixture('checkpoints/fairseq_base_dict.pt'), '--out', out, '--quiet']).status).toBe(0);
    const r = cli(['inspect', out, '--json']);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ schema: 'hubert-convert/inspect', version: 1, format: 'hf-folder', kind: 'hf-folder', valuesScanned: true, globals: [], warnings: [] });
    expect(report.evidence).toBe('config.json (model_type "hubert", HubertModel) with model.safetensors, final_proj.safetensors');
    const stored = [...readSafetensors(join(out, 'model.safetensors')).tensors.keys()];
    expect(report.tensors.map((t: { path: string }) => t.path).sort()).toEqual([...stored, 'final_proj.weight', 'final_proj.bias'].sort());
    expect(report.totalTensorBytes).toBe(report.tensors.reduce((a: number, t: { bytes: number }) => a + t.bytes, 0));
    expect(report.sourceConfig).toEqual(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')));
    expect(report.hfConfig.num_hidden_layers).toBe(2);
    expect(report.offers).toMatchObject({ layers: 2, projection: { name: 'final_proj' } });
    // the older pytorch_model.bin layout is a pickle: its globals are listed like a checkpoint's
    const bin = JSON.parse(cli(['inspect', fixture('hf-bin/fairseq_base_dict'), '--json']).stdout);
    expect(bin.evidence).toContain('pytorch_model.bin');
    expect(bin.globals.map((g: { name: string }) => g.name)).toContain('torch._utils._rebuild_tensor_v2');
    // NaN/Inf in a folder's weights are named
    const poisoned = join(work, 'inspect-nan');
    expect(cli(['convert', fixture('checkpoints/fairseq_base_dict.pt'), '--out', poisoned, '--quiet']).status).toBe(0);
    const tensors = readSafetensors(join(poisoned, 'model.safetensors')).tensors;
    const edited = [...tensors].map(([name, t]): [string, MemoryTensor] => {
      const v = new Float32Array(t.bytes().slice().buffer);
      if (name === 'encoder.layers.0.attention.q_proj.bias') v[3] = NaN;
      return [name, MemoryTensor.fromFloat32([...t.shape], v)];
    });
    writeSafetensors(join(poisoned, 'model.safetensors'), edited);
    const scanned = JSON.parse(cli(['inspect', poisoned, '--json']).stdout);
    expect(scanned.warnings).toEqual(['encoder.layers.0.attention.q_proj.bias has 1 NaN and 0 infinite value(s) of 32']);
    // a folder that is not a model folder: one line, exit 6
    const empty = join(work, 'inspect-empty');
    mkdirSync(empty);
    const none = cli(['inspect', empty]);
    expect(none.status).toBe(EXIT_CODES.io);
    expectOneLineError(none.stderr, 'E_NO_CONFIG_JSON');
  });

  it('inspect prints a human summary', () => {
    const r = cli(['inspect', fixture('checkpoints/distilhubert.ckpt')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Detected: distilhubert/);
    expect(r.stdout).toMatch(/optimizers\.WarmupLinearSchedule .*inert record/);
  });

  it('refuses an unsafe pickle with exit 3, one line, and a JSON error document with --json', () => {
    const r = cli(['inspect', fixture('hostile/zip_os_system.pt')]);
    expect(r.status).toBe(EXIT_CODES.unsafe);
    expectOneLineError(r.stderr, 'E_PICKLE_UNSAFE_GLOBAL');
    expect(r.stderr).toMatch(/os\.system|posix\.system/);
    const j = cli(['convert', fixture('hostile/zip_os_system.pt'), '--out', join(work, 'unsafe'), '--json']);
    expect(j.status).toBe(EXIT_CODES.unsafe);
    expect(JSON.parse(j.stdout)).toMatchObject({ schema: 'hubert-convert/error', error: { code: 'E_PICKLE_UNSAFE_GLOBAL', kind: 'unsafe', exitCode: 3 } });
    expect(existsSync(join(work, 'unsafe'))).toBe(false);
  });

  it('exits 4 for corrupt input and 5 for unsupported models', () => {
    expect(cli(['inspect', fixture('hostile/truncated.pt')]).status).toBe(EXIT_CODES.corrupt);
    const ctc = cli(['convert', fixture('checkpoints/fairseq_ctc.pt'), '--out', join(work, 'ctc-no-dict')]);
    expect(ctc.status).toBe(EXIT_CODES.corrupt);
    expectOneLineError(ctc.stderr, 'E_NO_VOCABULARY');
    const prenet = cli(['convert', fixture('checkpoints/superb_downstream_prenet.ckpt'), '--upstream', fixture('checkpoints/s3prl_hubert.pt'), '--out', join(work, 'prenet')]);
    expect(prenet.status).toBe(EXIT_CODES.unsupported);
    expect(readdirSync(work).filter((n) => n.includes('prenet') || n.includes('ctc-no-dict'))).toEqual([]);
  });

  it('a fresh fairseq fine-tune (w2v_args None) needs --upstream (exit 2, naming w2v_path); with it, it converts and verifies', () => {
    const out = join(work, 'fresh');
    const bare = cli(['convert', fixture('checkpoints/fairseq_ctc_fresh.pt'), '--out', out]);
    expect(bare.status).toBe(EXIT_CODES.usage);
    expectOneLineError(bare.stderr, 'E_NEEDS_UPSTREAM');
    expect(bare.stderr).toMatch(/w2v_path "\/checkpoint\/superb\/hubert_tiny\/checkpoint_best\.pt".*--upstream/);
    expect(existsSync(out)).toBe(false);
    const r = cli(['convert', fixture('checkpoints/fairseq_ctc_fresh.pt'), '--upstream', fixture('checkpoints/fairseq_ctc_fresh_pretrained.pt'), '--out', out, '--verify', '--json', '--quiet']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.report.architecture).toBe('HubertForCTC');
    expect(doc.report.warnings.join('\n')).toMatch(/w2v_args is None.*architecture is the one of --upstream/);
    expect(doc.verification.passed).toBe(true);
  });

  it("a SUPERB head with a fine-tuned Upstream converts with the checkpoint's encoder, and the report says so", () => {
    const out = join(work, 'ks-upstream');
    const r = cli(['convert', fixture('checkpoints/superb_ks_upstream.ckpt'), '--upstream', fixture('checkpoints/s3prl_hubert.pt'), '--out', out, '--verify', '--json', '--quiet']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.report.warnings.join('\n')).toMatch(/encoder weights are the checkpoint's own fine-tuned Upstream/);
    expect(doc.verification.passed).toBe(true);
  });

  it('convert --json writes the folder and prints the report; a second run needs --force (exit 6)', () => {
    const out = join(work, 'base');
    const r = cli(['convert', fixture('checkpoints/fairseq_base_dict.pt'), '--out', out, '--onnx', 'fp32', '--json', '--quiet']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ schema: 'hubert-convert/convert-result', version: 1, out, report: { schema: 'hubert-convert/conversion-report', architecture: 'HubertModel' } });
    expect(doc.report.files.map((f: { path: string }) => f.path)).toContain('onnx/model.onnx');
    expect(JSON.parse(readFileSync(join(out, 'conversion_report.json'), 'utf8'))).toEqual(doc.report);
    const again = cli(['convert', fixture('checkpoints/fairseq_base_dict.pt'), '--out', out]);
    expect(again.status).toBe(EXIT_CODES.io);
    expectOneLineError(again.stderr, 'E_OUTPUT_EXISTS');
    expect(again.stderr).toMatch(/--force/);
  });

  it('verify exits 0 on a good folder and 1 when a weight is flipped, naming the tensor', () => {
    const out = join(work, 'verified');
    expect(cli(['convert', fixture('checkpoints/fairseq_base_dict.pt'), '--out', out, '--onnx', 'fp32', '--quiet']).status).toBe(0);
    const ok = cli(['verify', out, '--source', fixture('checkpoints/fairseq_base_dict.pt'), '--json']);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ schema: 'hubert-convert/verify-report', passed: true });

    const weights = readSafetensors(join(out, 'model.safetensors'));
    const target = 'encoder.layers.1.feed_forward.output_dense.weight';
    const tensors = new Map(
      [...weights.tensors].map(([name, t]) => {
        const bytes = t.bytes().slice();
        if (name === target) bytes[4 * 7 + 3]! ^= 0x40; // one float, one exponent bit
        return [name, new MemoryTensor(t.dtype, t.shape, bytes)] as const;
      }),
    );
    weights.close();
    rmSync(join(out, 'model.safetensors'));
    writeSafetensors(join(out, 'model.safetensors'), tensors);
    const bad = cli(['verify', out, '--source', fixture('checkpoints/fairseq_base_dict.pt')]);
    expect(bad.status).toBe(EXIT_CODES.verification);
    expect(bad.stdout).toMatch(new RegExp(target.replace(/\./g, '\\.')));
  });

  it('demo converts and verifies the bundled fixture', () => {
    const r = cli(['demo', '--json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.verification.passed).toBe(true);
    expect(doc.report.onnx.map((o: { variant: string }) => o.variant)).toEqual(['fp32', 'fp16', 'q8']);
    expect(existsSync(doc.out)).toBe(false);
  });

  it('writes nothing to stdout but the JSON document with --json, even with progress on', () => {
    const r = cli(['convert', fixture('checkpoints/s3prl_hubert.pt'), '--out', join(work, 's3prl'), '--json']);
    expect(r.status).toBe(0);
    expect(() => JSON.parse(r.stdout)).not.toThrow();
    expect(r.stderr).toMatch(/writing safetensors/);
  });
});

