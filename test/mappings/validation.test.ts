/**
 * Convert validates before writing a byte: for every source kind, a checkpoint (or HF folder) made broken from a real
 * fixture — a tensor missing, one too many, a wrong shape, a wrong dtype, an absurd config — is refused with exit 4,
 * the error code of the problem and every offending name (HF and source), and nothing is written; NaN/Inf values
 * convert with a warning naming each tensor and count (summary and report), and verify then fails its finite check.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { HubertConvertError } from '../../src/errors.js';
import { readCheckpoint } from '../../src/readers/index.js';
import { MemoryTensor, type TensorData } from '../../src/tensor.js';
import { verify } from '../../src/verify/index.js';
import { cli } from '../helpers/cli.js';
import { fixture } from '../helpers/fixtures.js';
import { errorCode } from '../helpers/sandbox.js';
import { torchSave } from '../helpers/torch-save.js';
import { editConfig, editTensors } from '../verify/corrupt.js';

const root = mkdtempSync(join(tmpdir(), 'validation-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = (name: string) => join(root, `${name}-${counter++}`);

type Tree = Map<unknown, unknown>;
const at = (tree: Tree, path: readonly string[]): Tree => path.reduce<Tree>((v, k) => v.get(k) as Tree, tree);

function poisoned(t: TensorData): MemoryTensor {
  const values = new Float32Array(new Uint8Array(t.bytes()).buffer.slice(0));
  values[3] = Number.NaN;
  values[5] = Number.POSITIVE_INFINITY;
  return new MemoryTensor('F32', t.shape, new Uint8Array(values.buffer));
}

/** A source kind: the fixture, where its tensors and config live, how its names map. */
interface Kind {
  name: string;
  file: string;
  options?: { dict?: string; upstream?: string };
  /** state dict holding the encoder tensors, its key prefix, the HF prefix of the encoder */
  dict: readonly string[];
  keyPrefix: string;
  hfPrefix: string;
  /** the model config section (for SUPERB: the upstream's, edited in the upstream file) */
  config: readonly string[];
  editUpstream?: boolean;
}

const UPSTREAM = fixture('checkpoints/s3prl_hubert.pt');
const KINDS: Kind[] = [
  { name: 'fairseq pretrained', file: 'fairseq_base_dict.pt', dict: ['model'], keyPrefix: '', hfPrefix: '', config: ['cfg', 'model'] },
  {
    name: 'fairseq CTC',
    file: 'fairseq_ctc.pt',
    options: { dict: fixture('checkpoints/fairseq_ctc.dict.ltr.txt') },
    dict: ['model'],
    keyPrefix: 'w2v_encoder.w2v_model.',
    hfPrefix: 'hubert.',
    config: ['cfg', 'model', 'w2v_args', 'model'],
  },
  { name: 's3prl', file: 's3prl_hubert.pt', dict: ['model_weight'], keyPrefix: '', hfPrefix: '', config: ['model_cfg'] },
  { name: 'DistilHuBERT', file: 'distilhubert.ckpt', dict: ['Distiller'], keyPrefix: '', hfPrefix: '', config: ['Config', 'distiller'] },
  {
    name: 'SUPERB',
    file: 'superb_downstream.ckpt',
    options: { upstream: UPSTREAM },
    dict: ['model_weight'],
    keyPrefix: '',
    hfPrefix: 'hubert.',
    config: ['model_cfg'],
    editUpstream: true,
  },
];

/** Writes the kind's checkpoint (and, for SUPERB, its upstream) with `edit` applied to the encoder's file. */
function broken(kind: Kind, edit: (tree: Tree) => void): { input: string; upstream?: string; dictPath: string } {
  const target = kind.editUpstream ? UPSTREAM : fixture(`checkpoints/${kind.file}`);
  const checkpoint = readCheckpoint(target);
  try {
    edit(checkpoint.root as Tree);
    const path = fresh(kind.editUpstream ? 'upstream.pt' : 'source.pt');
    writeFileSync(path, torchSave(checkpoint.root));
    return kind.editUpstream ? { input: fixture(`checkpoints/${kind.file}`), upstream: path, dictPath: `upstream:${kind.dict.join('/')}` } : { input: path, dictPath: kind.dict.join('/') };
  } finally {
    checkpoint.close();
  }
}

async function refused(input: string, options: { dict?: string; upstream?: string }): Promise<HubertConvertError> {
  const out = fresh('out');
  let caught: unknown;
  try {
    await convert(input, { ...options, out });
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(HubertConvertError);
  expect(existsSync(out)).toBe(false); // nothing written
  return caught as HubertConvertError;
}

describe.each(KINDS)('$name source', (kind) => {
  const options = (b: { upstream?: string }) => ({ ...kind.options, ...(b.upstream ? { upstream: b.upstream } : {}) });
  const key = (k: string) => `${kind.keyPrefix}${k}`;

  it('refuses a missing tensor, naming it and its source name', async () => {
    const b = broken(kind, (t) => at(t, kind.dict).delete(key('encoder.layers.1.fc2.weight')));
    const error = await refused(b.input, options(b));
    expect([error.exitCode, error.code]).toEqual([4, 'E_MISSING_TENSOR']);
    expect(error.message).toContain(`1 tensor(s) missing: ${kind.hfPrefix}encoder.layers.1.feed_forward.output_dense.weight (from ${b.dictPath}/${key('encoder.layers.1.fc2.weight')}) [32, 64]`);
    expect(error.details['missing']).toEqual([`${kind.hfPrefix}encoder.layers.1.feed_forward.output_dense.weight`]);
  });

  it('refuses a tensor the config has no place for', async () => {
    const b = broken(kind, (t) => at(t, kind.dict).set(key('encoder.layers.7.fc1.weight'), at(t, kind.dict).get(key('encoder.layers.0.fc1.weight'))));
    const error = await refused(b.input, options(b));
    expect([error.exitCode, error.code]).toEqual([4, 'E_UNEXPECTED_TENSOR']);
    expect(error.message).toContain(
      `1 tensor(s) not part of this model: ${kind.hfPrefix}encoder.layers.7.feed_forward.intermediate_dense.weight (from ${b.dictPath}/${key('encoder.layers.7.fc1.weight')}) [64, 32]`,
    );
  });

  it('refuses a tensor of the wrong shape (k_proj [32, 24] in a 32-wide model)', async () => {
    const b = broken(kind, (t) => at(t, kind.dict).set(key('encoder.layers.1.self_attn.k_proj.weight'), new MemoryTensor('F32', [32, 24], new Uint8Array(32 * 24 * 4))));
    const error = await refused(b.input, options(b));
    expect([error.exitCode, error.code]).toEqual([4, 'E_TENSOR_SHAPE']);
    expect(error.message).toContain(
      `${kind.hfPrefix}encoder.layers.1.attention.k_proj.weight (from ${b.dictPath}/${key('encoder.layers.1.self_attn.k_proj.weight')}) is [32, 24], the config implies [32, 32]`,
    );
  });

  it('refuses a parameter of an integer dtype', async () => {
    const b = broken(kind, (t) => at(t, kind.dict).set(key('encoder.layers.1.self_attn.k_proj.bias'), new MemoryTensor('I32', [32], new Uint8Array(32 * 4))));
    const error = await refused(b.input, options(b));
    expect([error.exitCode, error.code]).toEqual([4, 'E_TENSOR_DTYPE']);
    expect(error.message).toContain(`${kind.hfPrefix}encoder.layers.1.attention.k_proj.bias (from ${b.dictPath}/${key('encoder.layers.1.self_attn.k_proj.bias')}) is I32, needs a float dtype`);
  });

  it('refuses an absurd config, naming each field, rule and value', async () => {
    const b = broken(kind, (t) => {
      const cfg = at(t, kind.config);
      cfg.set('encoder_layers', 1e9);
      cfg.set('encoder_attention_heads', 0);
      cfg.set('encoder_ffn_embed_dim', -5);
    });
    const error = await refused(b.input, options(b));
    expect([error.exitCode, error.code]).toEqual([4, 'E_CONFIG_INVALID']);
    expect(error.message).toContain('num_hidden_layers = 1000000000 breaks the rule "an integer from 1 to 1000" (the checkpoint\'s encoder_layers)');
    expect(error.message).toContain('num_attention_heads = 0 breaks the rule "an integer from 1 to 65536" (the checkpoint\'s encoder_attention_heads)');
    expect(error.message).toContain('intermediate_size = -5 breaks the rule "an integer from 1 to 1048576" (the checkpoint\'s encoder_ffn_embed_dim)');
  });

  it('converts NaN/Inf with a warning per tensor (summary and report); verify fails on them', async () => {
    const name = key('encoder.layers.0.fc1.weight');
    const b = broken(kind, (t) => at(t, kind.dict).set(name, poisoned(at(t, kind.dict).get(name) as TensorData)));
    const out = fresh('nan');
    const run = cli(['convert', b.input, '--out', out, ...(kind.options?.dict ? ['--dict', kind.options.dict] : []), ...(b.upstream ? ['--upstream', b.upstream] : [])]);
    const hf = `${kind.hfPrefix}encoder.layers.0.feed_forward.intermediate_dense.weight`;
    const warning = `${hf} (from ${b.dictPath}/${name}) has 1 NaN and 1 infinite value(s) of 2048`;
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`  - ${warning}`);
    const report = JSON.parse(readFileSync(join(out, 'conversion_report.json'), 'utf8')) as { nonFinite: unknown[]; warnings: string[] };
    expect(report.nonFinite).toEqual([{ tensor: hf, source: `${b.dictPath}/${name}`, nan: 1, inf: 1, total: 2048 }]);
    expect(report.warnings).toContain(warning);
    const verified = await verify(out);
    expect(verified.passed).toBe(false);
    const finite = verified.checks.find((c) => c.name === 'finite')!;
    expect(finite.items.filter((i) => !i.passed).map((i) => i.message)).toEqual([`${hf} has 1 NaN and 1 infinite value(s) of 2048`]);
    const verifyRun = cli(['verify', out]);
    expect(verifyRun.status).toBe(1);
    expect(verifyRun.stdout).toMatch(/finite/);
  });
});

describe('HF folder source', () => {
  /** A copy of the transformers-written fixture folder, edited. */
  function folder(name: string, edit: (dir: string) => void): string {
    const dir = fresh(name);
    cpSync(fixture(`hf/${name}`), dir, { recursive: true });
    edit(dir);
    return dir;
  }

  it('refuses a missing tensor', async () => {
    const dir = folder('fairseq_ctc', (d) => editTensors(d, (t) => t.delete('hubert.encoder.layers.1.feed_forward.output_dense.weight')));
    const error = await refused(dir, {});
    expect([error.exitCode, error.code]).toEqual([4, 'E_MISSING_TENSOR']);
    expect(error.message).toContain('1 tensor(s) missing: hubert.encoder.layers.1.feed_forward.output_dense.weight [32, 64]');
  });

  it('refuses an unexpected tensor', async () => {
    const dir = folder('fairseq_base_dict', (d) => editTensors(d, (t) => t.set('encoder.layers.7.feed_forward.intermediate_dense.weight', t.get('encoder.layers.0.feed_forward.intermediate_dense.weight')!)));
    const error = await refused(dir, {});
    expect([error.exitCode, error.code]).toEqual([4, 'E_UNEXPECTED_TENSOR']);
    expect(error.message).toContain('1 tensor(s) not part of this model: encoder.layers.7.feed_forward.intermediate_dense.weight [64, 32]');
  });

  it('refuses a wrong shape and a wrong dtype, listing both (the first kind of problem names the code)', async () => {
    const dir = folder('fairseq_base_dict', (d) =>
      editTensors(d, (t) => {
        t.set('encoder.layers.1.attention.k_proj.weight', new MemoryTensor('F32', [32, 24], new Uint8Array(32 * 24 * 4)));
        t.set('encoder.layers.1.attention.k_proj.bias', new MemoryTensor('I32', [32], new Uint8Array(32 * 4)));
      }),
    );
    const error = await refused(dir, {});
    expect([error.exitCode, error.code]).toEqual([4, 'E_TENSOR_SHAPE']);
    expect(error.message).toContain('encoder.layers.1.attention.k_proj.weight is [32, 24], the config implies [32, 32]');
    expect(error.message).toContain('encoder.layers.1.attention.k_proj.bias is I32, needs a float dtype');
    expect(error.details).toMatchObject({ wrongShape: ['encoder.layers.1.attention.k_proj.weight'], wrongDtype: ['encoder.layers.1.attention.k_proj.bias'] });
  });

  it('refuses a wrong dtype alone with E_TENSOR_DTYPE', async () => {
    const dir = folder('fairseq_base_dict', (d) => editTensors(d, (t) => t.set('encoder.layer_norm.bias', new MemoryTensor('I32', [32], new Uint8Array(32 * 4)))));
    const error = await refused(dir, {});
    expect([error.exitCode, error.code]).toEqual([4, 'E_TENSOR_DTYPE']);
    expect(error.message).toContain('encoder.layer_norm.bias is I32');
  });

  it('refuses an absurd config.json (exit 4 from the CLI, each field named)', () => {
    const dir = folder('fairseq_base_dict', (d) => editConfig(d, { num_hidden_layers: 1e9, num_attention_heads: 0, intermediate_size: -5 }));
    const out = fresh('out');
    const run = cli(['convert', dir, '--out', out]);
    expect(run.status).toBe(4);
    expect(errorCode(run.stderr)).toBe('E_CONFIG_INVALID');
    expect(run.stderr).toContain('num_hidden_layers = 1000000000 breaks the rule "an integer from 1 to 1000"; num_attention_heads = 0 breaks the rule "an integer from 1 to 65536"; intermediate_size = -5 breaks the rule "an integer from 1 to 1048576"');
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a config whose fields are each valid but break a rule between them', async () => {
    const dir = folder('fairseq_base_dict', (d) => editConfig(d, { num_attention_heads: 5 }));
    const error = await refused(dir, {});
    expect([error.exitCode, error.code]).toEqual([4, 'E_CONFIG_INVALID']);
    expect(error.message).toContain('hidden_size, num_attention_heads = [32,5] breaks the rule "hidden_size divisible by num_attention_heads"');
  });

  it('converts NaN/Inf with a warning; verify fails its finite check', async () => {
    const dir = folder('fairseq_base_dict', (d) => editTensors(d, (t) => t.set('encoder.layers.0.feed_forward.intermediate_dense.weight', poisoned(t.get('encoder.layers.0.feed_forward.intermediate_dense.weight')!))));
    const out = fresh('nan');
    const { report } = await convert(dir, { out });
    expect(report.nonFinite).toEqual([{ tensor: 'encoder.layers.0.feed_forward.intermediate_dense.weight', nan: 1, inf: 1, total: 2048 }]);
    expect(report.warnings).toContain('encoder.layers.0.feed_forward.intermediate_dense.weight has 1 NaN and 1 infinite value(s) of 2048');
    const verified = await verify(out);
    expect(verified.checks.find((c) => c.name === 'finite')).toMatchObject({ passed: false, summary: '1 tensor(s) hold NaN or Inf: encoder.layers.0.feed_forward.intermediate_dense.weight' });
  });
});

describe('CLI exit codes for refused tensors', () => {
  it('exits 4 with E_MISSING_TENSOR and the names on stderr, writing nothing', () => {
    const checkpoint = readCheckpoint(fixture('checkpoints/fairseq_base_dict.pt'));
    at(checkpoint.root as Tree, ['model']).delete('encoder.layers.1.fc2.weight');
    const input = fresh('missing.pt');
    writeFileSync(input, torchSave(checkpoint.root));
    checkpoint.close();
    const out = fresh('out');
    const run = cli(['convert', input, '--out', out]);
    expect(run.status).toBe(4);
    expect(errorCode(run.stderr)).toBe('E_MISSING_TENSOR');
    expect(run.stderr).toContain('encoder.layers.1.feed_forward.output_dense.weight (from model/encoder.layers.1.fc2.weight)');
    expect(existsSync(out)).toBe(false);
  });
});
