/**
 * verify() end to end on folders made by the real converter, and corrupted copies of them: each corruption must be
 * caught by the check responsible for it, with a message that names what is wrong and where.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { CorruptInputError, FileSystemError } from '../../src/errors.js';
import { castTensor, MemoryTensor } from '../../src/tensor.js';
import { formatVerifyReport, verify, type CheckResult, type VerifyReport } from '../../src/verify/index.js';
import { copyFolder, editConfig, editTensors, flipBit, loadTensors, replaceBytes } from './corrupt.js';
import { FIXTURES, writeGoldenWithInputs } from './helpers.js';

const checkpoint = (name: string) => join(FIXTURES, 'checkpoints', name);
const LARGE = checkpoint('fairseq_large_dictconfig.pt');
const BASE = checkpoint('fairseq_base_dict.pt');

let root: string;
let good: string; // layer-norm, pre-LN, conv bias; fp32 + fp16 + q8 with hidden states
let other: string; // a different model (group-norm, post-LN), fp32 only

function check(report: VerifyReport, name: string): CheckResult {
  const c = report.checks.find((x) => x.name === name);
  if (!c) throw new Error(`no ${name} check`);
  return c;
}

function failed(c: CheckResult): string[] {
  return c.items.filter((i) => !i.passed).map((i) => `${i.subject}: ${i.message}`);
}

/** A copy of the good folder with only the fp32 graph (faster for corruptions that are not about ONNX). */
function fp32Copy(): string {
  const dir = copyFolder(good, root);
  unlinkSync(join(dir, 'onnx/model_fp16.onnx'));
  unlinkSync(join(dir, 'onnx/model_quantized.onnx'));
  return dir;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'verify-test-'));
  good = join(root, 'good');
  other = join(root, 'other');
  await convert(LARGE, { out: good, onnx: ['fp32', 'fp16', 'q8'], hiddenStates: true });
  await convert(BASE, { out: other, onnx: ['fp32'] });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('verify on a good folder', () => {
  let report: VerifyReport;
  beforeAll(async () => {
    report = await verify(good, { source: LARGE });
  });

  it('passes every check, with numbers for every variant, input and output', () => {
    expect(report).toMatchObject({ schema: 'hubert-convert/verify-report', version: 1, folder: good, passed: true });
    expect(report.checks.map((c) => [c.name, c.passed, c.skipped ?? null])).toEqual([
      ['weights', true, null],
      ['config', true, null],
      ['finite', true, null],
      ['parity', true, null],
      ['expected', true, 'no expected outputs given (--expected)'],
    ]);
    const parity = check(report, 'parity').items;
    const subjects = parity.map((i) => i.subject);
    for (const variant of ['fp32', 'fp16', 'q8']) {
      for (const input of ['single', 'batch']) {
        for (const output of ['last_hidden_state', 'hidden_states.0', 'hidden_states.3']) expect(subjects).toContain(`${variant} ${input} ${output}`);
      }
    }
    for (const item of parity) {
      const c = item.comparison!;
      expect(c.cosine).toBeGreaterThan(0.99);
      if (item.subject.startsWith('fp32')) {
        expect(c.maxAbs).toBeLessThan(1e-4);
        expect(c.tolerance).toEqual({ atol: 1e-4, rtol: 1e-4, minCosine: 0.99999 });
      }
    }
    // 86 model tensors + final_proj's weight and bias (final_proj.safetensors)
    expect(check(report, 'weights').items.map((i) => i.message)).toContain('88 of 88 folder tensors equal the source bit for bit');
    expect(report.inputs).toEqual([
      { name: 'single', batch: 1, length: 16000, lengths: [16000], padded: false },
      { name: 'batch', batch: 2, length: 16000, lengths: [16000, 11000], padded: true },
    ]);
  });

  it('renders a table with the figures and the verdict', () => {
    const text = formatVerifyReport(report);
    expect(text).toContain(`hubert-convert verify ${good} (HubertModel)`);
    expect(text).toMatch(/PASS {2}parity: fp32, fp16, q8 on single, batch: 30 output comparison\(s\), all within tolerance/);
    expect(text).toMatch(/ok {2}fp32 batch last_hidden_state +\d\.\d\de-\d/);
    expect(text).toContain('SKIP  expected: skipped: no expected outputs given (--expected)');
    expect(text.trimEnd()).toMatch(/PASSED \(\d+\.\d s\)$/);
  });

  it('skips the weights check without a source checkpoint', async () => {
    const r = await verify(fp32Copy());
    expect(check(r, 'weights')).toMatchObject({ passed: true, skipped: 'no source checkpoint given (--source)' });
    expect(r.passed).toBe(true);
  });
});

describe('corruptions are caught by the right check', () => {
  it('one flipped weight bit: the weights check names the tensor and the index', async () => {
    const dir = fp32Copy();
    const name = 'encoder.layers.1.feed_forward.intermediate_dense.weight'; // [64, 32]
    let values: [number, number] = [0, 0];
    editTensors(dir, (t) => (values = flipBit(t, name, 3 * 32 + 7)));
    const r = await verify(dir, { source: LARGE });
    const weights = check(r, 'weights');
    expect(weights.passed).toBe(false);
    expect(failed(weights)).toContain(`${name}: 1 element(s) differ from the source; first at index [3, 7]: folder ${values[1]}, source ${values[0]}`);
    expect(failed(weights).find((m) => m.startsWith('file model.safetensors'))).toMatch(/model\.safetensors has \d+ bytes, sha256 [0-9a-f]{64}; conversion_report\.json records \d+ bytes, sha256 [0-9a-f]{64} \(modified after conversion\)/);
    expect(check(r, 'config').passed).toBe(true);
  });

  it('convert --verify does not hash its own files again: sizes are checked, the tensors compared byte for byte', async () => {
    const dir = copyFolder(good, root);
    const name = 'encoder.layers.1.feed_forward.intermediate_dense.weight';
    editTensors(dir, (t) => void flipBit(t, name, 5));
    const report = JSON.parse(readFileSync(join(dir, 'conversion_report.json'), 'utf8')) as { files: unknown[] };
    const weights = check(await verify(dir, { source: LARGE, checksumsTakenWhileWriting: true }), 'weights');
    // the same-size edit is found by the tensor comparison, not by a second hash of the file
    expect(failed(weights)).toEqual(['tensors: 87 of 88 folder tensors equal the source bit for bit', expect.stringMatching(new RegExp(`^${name}: 1 element\\(s\\) differ from the source`))]);
    expect(weights.items.map((i) => i.message)).toContain(`${report.files.length} of ${report.files.length} files match their recorded size (SHA-256 taken while this run wrote them)`);
    expect(weights.items.some((i) => i.subject === 'source checksum')).toBe(false);
    // a size change is still a failed file line
    writeFileSync(join(dir, 'config.json'), readFileSync(join(dir, 'config.json'), 'utf8') + ' ');
    const grown = check(await verify(dir, { source: LARGE, checksumsTakenWhileWriting: true }), 'weights');
    expect(failed(grown).find((m) => m.startsWith('file config.json'))).toMatch(/^file config\.json: config\.json has \d+ bytes/);
  });

  it('swapped q/k projections: named by the weights check, and caught by parity without a source', async () => {
    const dir = fp32Copy();
    editTensors(dir, (t) => {
      const q = t.get('encoder.layers.0.attention.q_proj.weight')!;
      t.set('encoder.layers.0.attention.q_proj.weight', t.get('encoder.layers.0.attention.k_proj.weight')!);
      t.set('encoder.layers.0.attention.k_proj.weight', q);
    });
    const withSource = await verify(dir, { source: LARGE });
    const names = check(withSource, 'weights').items.filter((i) => !i.passed).map((i) => i.subject);
    expect(names).toEqual(expect.arrayContaining(['encoder.layers.0.attention.q_proj.weight', 'encoder.layers.0.attention.k_proj.weight']));
    expect(check(withSource, 'config').passed).toBe(true);

    const r = await verify(dir);
    const parity = check(r, 'parity');
    expect(parity.passed).toBe(false);
    const bad = parity.items.find((i) => i.subject === 'fp32 single last_hidden_state')!;
    expect(bad.passed).toBe(false);
    expect(bad.message).toMatch(/^\|onnx − reference\| = \S+ at batch 0, frame \d+, channel \d+ \(onnx \S+, reference \S+\) exceeds atol 0\.0001 \+ rtol 0\.0001·\|reference\|/);
    expect(bad.comparison!.maxAbs).toBeGreaterThan(1e-3);
  });

  it('a dropped encoder layer: the config check names it', async () => {
    const dir = fp32Copy();
    editTensors(dir, (t) => {
      for (const name of [...t.keys()]) if (name.startsWith('encoder.layers.1.')) t.delete(name);
    });
    const r = await verify(dir);
    const config = check(r, 'config');
    expect(config.passed).toBe(false);
    expect(failed(config)).toContain('num_hidden_layers: num_hidden_layers is 3 but the weights have encoder layers [0, 2]; layer(s) 1 missing');
    // the reference cannot run on weights that lack a layer: parity fails with the reason instead of crashing
    expect(check(r, 'parity').summary).toBe(
      'could not complete: the model has no tensor "encoder.layers.1.attention.q_proj.weight", which its config requires; the folder\'s weights and config.json do not match' +
        ' (the config check failed too: the reference follows config.json, so fix that first)',
    );
  });

  it('a wrong layer_norm_eps: the parity check catches it (the config is still well-formed)', async () => {
    const dir = fp32Copy();
    editConfig(dir, { layer_norm_eps: 1e-3 });
    const r = await verify(dir);
    expect(check(r, 'config').passed).toBe(true);
    const parity = check(r, 'parity');
    expect(parity.passed).toBe(false);
    const failing = parity.items.filter((i) => !i.passed);
    expect(failing.map((i) => i.subject)).toContain('fp32 single last_hidden_state');
    for (const i of failing) expect(i.comparison!.maxAbs).toBeGreaterThan(1e-3);
  });

  it('a wrong feat_proj_layer_norm: the config check names it and says how to fix it', async () => {
    const dir = fp32Copy();
    editConfig(dir, { feat_proj_layer_norm: false });
    const r = await verify(dir);
    expect(failed(check(r, 'config'))).toEqual([
      'feat_proj_layer_norm: feat_proj_layer_norm is false but the weights have feature_projection.layer_norm.weight/bias; set it to true (the LayerNorm would otherwise be skipped)',
      'no unexpected tensors: 2 tensor(s) the config does not account for: feature_projection.layer_norm.bias, feature_projection.layer_norm.weight',
    ]);
  });

  it('an ONNX graph of a different model: parity fails for that variant only', async () => {
    const dir = copyFolder(good, root);
    copyFileSync(join(other, 'onnx/model.onnx'), join(dir, 'onnx/model.onnx'));
    const r = await verify(dir);
    const parity = check(r, 'parity');
    expect(parity.passed).toBe(false);
    const fp32 = parity.items.filter((i) => i.subject.startsWith('fp32 '));
    expect(fp32.map((i) => [i.subject, i.passed])).toEqual([
      ['fp32 single last_hidden_state', false],
      ['fp32 batch last_hidden_state', false],
    ]);
    expect(fp32[0]!.comparison!.cosine).toBeLessThan(0.9);
    expect(parity.items.filter((i) => !i.subject.startsWith('fp32 ')).every((i) => i.passed)).toBe(true);
    expect(check(r, 'config').passed).toBe(true);
  });

  it('a truncated ONNX file: parity says it cannot be read (E_ONNX_TRUNCATED), the other variants still run', async () => {
    const dir = copyFolder(good, root);
    const path = join(dir, 'onnx/model_quantized.onnx');
    writeFileSync(path, readFileSync(path).subarray(0, 1000));
    const r = await verify(dir);
    const parity = check(r, 'parity');
    expect(failed(parity)).toEqual([expect.stringMatching(/^q8: E_ONNX_TRUNCATED: onnx\/model_quantized\.onnx cannot be read: .+ it is truncated: export or download it again$/)]);
    expect(parity.items.find((i) => !i.passed)!.details).toEqual({ code: 'E_ONNX_TRUNCATED' });
    expect(parity.items.filter((i) => i.comparison).every((i) => i.passed && !i.subject.startsWith('q8'))).toBe(true);
  });

  it('a tampered fp16 variant: parity names the fp16 outputs that broke', async () => {
    const dir = copyFolder(good, root);
    const gamma = loadTensors(dir).get('encoder.layer_norm.weight')!; // the final LayerNorm of this pre-LN model
    const doubled = new Float32Array(new Float32Array(gamma.bytes().slice().buffer).map((x) => x * 2));
    const replaced = replaceBytes(join(dir, 'onnx/model_fp16.onnx'), gamma.bytes(), new Uint8Array(doubled.buffer));
    const replaced16 = replaceBytes(
      join(dir, 'onnx/model_fp16.onnx'),
      castTensor(gamma, 'F16').bytes(),
      castTensor(MemoryTensor.fromFloat32(gamma.shape, doubled), 'F16').bytes(),
    );
    expect(replaced + replaced16).toBeGreaterThan(0);
    const r = await verify(dir);
    const parity = check(r, 'parity');
    expect(parity.passed).toBe(false);
    const failing = parity.items.filter((i) => !i.passed);
    expect(failing.map((i) => i.subject).sort()).toEqual(['fp16 batch last_hidden_state', 'fp16 single last_hidden_state']);
    expect(failing[0]!.message).toMatch(/relative L2 error \S+ > 0\.05$/);
  });
});

describe('expected outputs', () => {
  it('accepts the transformers goldens (safetensors with inputs) and compares reference and every variant', async () => {
    const r = await verify(good, { expected: writeGoldenWithInputs('fairseq_large_dictconfig', join(root, 'golden-with-inputs.safetensors')) });
    const expected = check(r, 'expected');
    expect(failed(expected)).toEqual([]);
    const subjects = expected.items.map((i) => i.subject);
    expect(subjects).toContain('reference expected:single last_hidden_state');
    expect(subjects).toContain('reference expected:batch hidden_states.3');
    expect(subjects).toContain('q8 expected:batch last_hidden_state');
    for (const i of expected.items.filter((x) => x.subject.startsWith('reference'))) expect(i.comparison!.maxAbs).toBeLessThan(1e-4);
  });

  it('fails on expected values that do not match, naming the output and where', async () => {
    // .npy convention: the main output for the built-in single input; here deliberately the batch golden's row 0
    const dir = mkdtempSync(join(root, 'npy-'));
    const path = join(dir, 'wrong.npy');
    const values = new Float32Array(49 * 32).map((_, i) => Math.sin(i));
    const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 49, 32), }`.padEnd(117, ' ') + '\n';
    const bytes = new Uint8Array(10 + header.length + values.byteLength);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(bytes.buffer).setUint16(8, header.length, true);
    bytes.set(new TextEncoder().encode(header), 10);
    bytes.set(new Uint8Array(values.buffer), 10 + header.length);
    writeFileSync(path, bytes);
    const r = await verify(fp32Copy(), { expected: path });
    const expected = check(r, 'expected');
    expect(expected.items.map((i) => [i.subject, i.passed])).toEqual([
      ['reference single last_hidden_state', false],
      ['fp32 single last_hidden_state', false],
    ]);
    expect(expected.items[0]!.comparison!.worst.batch).toBe(0);
  });
});

describe('unusable input', () => {
  it('throws typed errors for a missing folder, a folder without config.json, and broken config.json', async () => {
    const missing = join(root, 'nope');
    await expect(verify(missing)).rejects.toThrow(FileSystemError);
    await expect(verify(missing)).rejects.toMatchObject({ code: 'E_NOT_A_FOLDER', message: `${missing} is not a folder; pass a Hugging Face model folder (e.g. one written by hubert-convert)` });
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await expect(verify(empty)).rejects.toMatchObject({ code: 'E_NO_CONFIG_JSON', message: `${empty} has no config.json; is this a Hugging Face model folder?` });
    const broken = fp32Copy();
    writeFileSync(join(broken, 'config.json'), '{"model_type": "hubert",');
    const error = await verify(broken).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptInputError);
    expect(error).toMatchObject({ code: 'E_BAD_JSON' });
    expect((error as Error).message).toMatch(new RegExp(`^${join(broken, 'config.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON \\(.+\\); re-run the conversion to rewrite it$`));
  });
});

describe('weights check across source kinds', () => {
  it('accepts a cast folder through the cast the report records', async () => {
    const out = join(root, 'fp16-folder');
    await convert(LARGE, { out, dtype: 'fp16' });
    const r = await verify(out, { source: LARGE });
    expect(failed(check(r, 'weights'))).toEqual([]);
    // 86 model tensors + final_proj's weight and bias, cast alike
    expect(check(r, 'weights').items[0]!.message).toBe('88 of 88 folder tensors equal the source (88 through the recorded cast) bit for bit');
  });

  it('maps CTC checkpoints with their dictionary and SUPERB heads with their upstream', async () => {
    const dict = join(FIXTURES, 'checkpoints', 'fairseq_ctc.dict.ltr.txt');
    const ctc = join(root, 'ctc');
    await convert(checkpoint('fairseq_ctc.pt'), { out: ctc, dict });
    expect(failed(check(await verify(ctc, { source: checkpoint('fairseq_ctc.pt'), dict }), 'weights'))).toEqual([]);
    // without the dictionary the mapping cannot run: the check says why instead of crashing
    const noDict = check(await verify(ctc, { source: checkpoint('fairseq_ctc.pt') }), 'weights');
    expect(noDict.passed).toBe(false);
    expect(noDict.items[0]!.message).toMatch(/^E_NO_VOCABULARY: .*--dict dict\.ltr\.txt/);

    const upstream = checkpoint('s3prl_hubert.pt');
    const superb = join(root, 'superb');
    await convert(checkpoint('superb_downstream.ckpt'), { out: superb, upstream });
    const r = await verify(superb, { source: checkpoint('superb_downstream.ckpt'), upstream });
    expect(failed(check(r, 'weights'))).toEqual([]);
    expect(check(r, 'weights').items.find((i) => i.subject === 'source tensors accounted for')!.message).toMatch(
      /^all \d+ tensors of the source state dict\(s\) \[.*upstream:.*\] are mapped \(\d+\) or dropped by a rule \(\d+\); \d+ tensor\(s\) outside them \(optimizer or trainer state\) are not model weights$/,
    );
  });
});

describe('--audio', () => {
  it('adds the user audio to the parity inputs', async () => {
    const dir = mkdtempSync(join(root, 'audio-'));
    const path = join(dir, 'speech.wav');
    const samples = 12345;
    const data = new Int16Array(samples).map((_, i) => Math.round(8000 * Math.sin(i / 7) * Math.sin(i / 900)));
    const header = new DataView(new ArrayBuffer(44));
    const text = (o: number, s: string) => [...s].forEach((c, i) => header.setUint8(o + i, c.charCodeAt(0)));
    text(0, 'RIFF'); header.setUint32(4, 36 + data.byteLength, true); text(8, 'WAVE'); text(12, 'fmt ');
    header.setUint32(16, 16, true); header.setUint16(20, 1, true); header.setUint16(22, 1, true); header.setUint32(24, 16000, true);
    header.setUint32(28, 32000, true); header.setUint16(32, 2, true); header.setUint16(34, 16, true); text(36, 'data'); header.setUint32(40, data.byteLength, true);
    writeFileSync(path, Buffer.concat([new Uint8Array(header.buffer), new Uint8Array(data.buffer)]));
    const r = await verify(fp32Copy(), { audio: [path] });
    expect(r.inputs.at(-1)).toEqual({ name: `audio:${path}`, batch: 1, length: samples, lengths: [samples], padded: false });
    const item = check(r, 'parity').items.find((i) => i.subject === `fp32 audio:${path} last_hidden_state`)!;
    expect(item.passed).toBe(true);
    expect(item.comparison!.shape).toEqual([1, 38, 32]);
  });
});
