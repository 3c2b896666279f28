import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ALLOWED, type Checkpoint, LazyTensor, PyObject, type PyValue, pyAttributes, pyGet, readCheckpoint } from '../../src/readers/index.js';
import { toFloat64 } from '../../src/tensor.js';

const ROOT = join(import.meta.dirname, '../../fixtures');
const NAMES = readdirSync(join(ROOT, 'checkpoints'))
  .filter((f) => /\.(pt|ckpt)$/.test(f))
  .map((f) => f.replace(/\.(pt|ckpt)$/, ''));

interface Expected {
  path: string;
  dtype: string;
  shape: number[];
  sha256: string;
  head: number[];
}

function open(name: string): Checkpoint {
  const file = readdirSync(join(ROOT, 'checkpoints')).find((f) => f.replace(/\.(pt|ckpt)$/, '') === name)!;
  return readCheckpoint(join(ROOT, 'checkpoints', file));
}

const sha = (parts: Iterable<Uint8Array>): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('every fixture checkpoint: tensors bit-for-bit against torch', () => {
  test('all twenty-four fixtures are present', () => {
    expect(NAMES.length).toBe(24);
  });
  for (const name of NAMES) {
    test(name, () => {
      const ckpt = open(name);
      try {
        const expected = JSON.parse(readFileSync(join(ROOT, 'expected', `${name}.tensors.json`), 'utf8')) as Expected[];
        expect(ckpt.tensors.map((t) => t.path)).toEqual(expected.map((e) => e.path));
        for (const [i, e] of expected.entries()) {
          const t = ckpt.tensors[i]!.tensor;
          expect([t.dtype, [...t.shape]], e.path).toEqual([e.dtype, e.shape]);
          expect(sha([t.bytes()]), e.path).toBe(e.sha256);
          // small chunks (a copy each: a yielded view may be reused) must concatenate to the same bytes
          expect(sha(Array.from(t.chunks(12), (c) => c.slice())), e.path).toBe(e.sha256);
          if (t.dtype.startsWith('F') || t.dtype === 'BF16') {
            expect([...toFloat64(t).slice(0, e.head.length)].map((v) => Math.fround(v)), e.path).toEqual(e.head.map((v) => Math.fround(v)));
          }
        }
        expect(ckpt.globals.every((g) => g.count >= 1)).toBe(true);
      } finally {
        ckpt.close();
      }
    });
  }
});

describe('Python structure survives as plain values', () => {
  test('fairseq_base_dict: cfg dict, Dictionary symbols, numpy metric scalars, 0-d tensor, state_dict _metadata', () => {
    const c = open('fairseq_base_dict');
    expect(c.format).toBe('torch-zip');
    expect(pyGet(c.root, 'cfg', 'model', 'encoder_layers')).toBe(2);
    expect(pyGet(c.root, 'cfg', 'model', 'conv_feature_layers')).toBe('[(16,10,5)] + [(16,3,2)] * 4 + [(16,2,2)] * 2');
    expect(pyGet(c.root, 'cfg', 'task', 'normalize')).toBe(false);
    expect(pyGet(c.root, 'cfg', 'common', 'seed')).toBe(101);
    const dict = pyGet(c.root, 'task_state', 'dictionaries', 0);
    expect((pyGet(dict, 'symbols') as string[]).slice(0, 6)).toEqual(['<s>', '<pad>', '</s>', '<unk>', '0', '1']);
    expect(pyGet(dict, 'nspecial')).toBe(4);
    expect(pyGet(dict, 'indices', '<unk>')).toBe(3);
    expect(pyGet(c.root, 'extra_state', 'metrics', 'train', 'loss', 'val')).toBe(3.2501 + (101 % 7) / 100);
    expect(pyGet(c.root, 'extra_state', 'metrics', 'train', 'accuracy', 'val')).toBe(0.4375);
    expect(pyGet(c.root, 'extra_state', 'best')).toBe(3.104);
    const zeroD = pyGet(c.root, 'extra_state', 'best_loss_tensor') as LazyTensor;
    expect(zeroD).toBeInstanceOf(LazyTensor);
    expect(zeroD.shape).toEqual([]);
    expect(toFloat64(zeroD)[0]).toBe(Math.fround(3.104));
    // the model state_dict is an OrderedDict whose _metadata stays off its items
    const model = pyGet(c.root, 'model') as Map<string, PyValue>;
    expect(model.has('_metadata')).toBe(false);
    expect(pyAttributes(model)?.has('_metadata')).toBe(true);
    expect(c.globals.every((g) => g.handling === 'shim')).toBe(true);
    c.close();
  });

  test('fairseq_base_dict: q/k/v share one storage; a transposed view is gathered in C order', () => {
    const c = open('fairseq_base_dict');
    const get = (p: string): LazyTensor => c.tensors.find((t) => t.path === p)!.tensor;
    const q = get('model/encoder.layers.0.self_attn.q_proj.weight');
    const k = get('model/encoder.layers.0.self_attn.k_proj.weight');
    expect(k.storage).toBe(q.storage);
    expect(k.storageOffset).toBe(1024);
    // fileOffset lets a writer copy the range directly: the file bytes there are the tensor's bytes
    const fd = openSync(c.file, 'r');
    const direct = new Uint8Array(k.byteLength);
    readSync(fd, direct, 0, k.byteLength, k.fileOffset!);
    closeSync(fd);
    expect(direct).toEqual(k.bytes());
    const fc1 = get('model/encoder.layers.1.fc1.weight');
    expect([fc1.isContiguous, fc1.strides, fc1.fileOffset]).toEqual([false, [1, 64], undefined]);
    c.close();
  });

  test('fairseq_large_dictconfig: omegaconf DictConfig → plain Map with the same values', () => {
    const c = open('fairseq_large_dictconfig');
    const cfg = pyGet(c.root, 'cfg');
    expect(cfg).toBeInstanceOf(Map);
    expect(pyGet(cfg, 'model', 'encoder_layers')).toBe(3);
    expect(pyGet(cfg, 'model', 'layer_norm_first')).toBe(true);
    expect(pyGet(cfg, 'model', 'conv_bias')).toBe(true);
    expect(pyGet(cfg, 'model', 'conv_pos')).toBe(15);
    expect(pyGet(cfg, 'model', 'extractor_mode')).toBe('layer_norm');
    expect(pyGet(cfg, 'task', 'normalize')).toBe(true);
    expect(pyGet(cfg, 'task', 'labels')).toEqual(['km']);
    expect(pyGet(cfg, 'optimization', 'lr')).toEqual([0.0005]);
    expect(pyGet(cfg, 'model', 'latent_temp')).toEqual([2, 0.5, 0.999995]);
    expect(pyGet(cfg, 'scoring')).toBe(null);
    expect(c.globals.map((g) => g.name)).toContain('omegaconf.dictconfig.DictConfig');
    c.close();
  });

  test('fairseq_base_namespace: argparse.Namespace args → Map of its fields', () => {
    const c = open('fairseq_base_namespace');
    expect((c.root as Map<string, PyValue>).has('cfg')).toBe(false);
    expect(pyGet(c.root, 'args', 'arch')).toBe('hubert');
    expect(pyGet(c.root, 'args', 'task')).toBe('hubert_pretraining');
    expect(pyGet(c.root, 'args', 'encoder_layers')).toBe(2);
    expect(pyGet(c.root, 'args', 'conv_pos')).toBe(16);
    c.close();
  });

  test('fairseq_base_legacy: legacy format, same structure', () => {
    const c = open('fairseq_base_legacy');
    expect(c.format).toBe('torch-legacy');
    expect(pyGet(c.root, 'cfg', 'model', 'encoder_layers')).toBe(2);
    expect(pyGet(c.root, 'task_state', 'dictionaries', 0, 'nspecial')).toBe(4);
    expect(c.warnings).toEqual([]);
    c.close();
  });

  test('fairseq_ctc_taskdict: target Dictionary symbols match the dict.ltr.txt of the same letters', () => {
    const c = open('fairseq_ctc_taskdict');
    const symbols = pyGet(c.root, 'task_state', 'target_dictionary', 'symbols') as string[];
    const ltr = readFileSync(join(ROOT, 'checkpoints', 'fairseq_ctc.dict.ltr.txt'), 'utf8').trim().split('\n').map((l) => l.split(' ')[0]);
    expect(symbols.slice(0, 4)).toEqual(['<s>', '<pad>', '</s>', '<unk>']);
    expect(symbols.slice(4)).toEqual(ltr);
    c.close();
  });

  test('s3prl / distilhubert / superb: plain dicts, Namespace Args, the scheduler allow-listed as inert', () => {
    const s = open('s3prl_hubert');
    expect((pyGet(s.root, 'dictionaries_symbols', 0) as string[]).slice(0, 4)).toEqual(['<s>', '<pad>', '</s>', '<unk>']);
    expect(pyGet(s.root, 'model_cfg', 'encoder_layers')).toBe(2);
    s.close();
    const d = open('distilhubert');
    expect(pyGet(d.root, 'Args', 'upstream')).toBe('distiller');
    expect(pyGet(d.root, 'Config', 'distiller', 'encoder_layers')).toBe(2);
    expect(d.globals.find((g) => g.name === 'optimizers.WarmupLinearSchedule')).toEqual({ name: 'optimizers.WarmupLinearSchedule', count: 1, handling: 'inert' });
    expect(pyGet(d.root, 'Optimizer', 'param_groups', 0, 'schedule')).toBeInstanceOf(PyObject);
    expect(d.warnings.join('\n')).toMatch(/1 foreign object type\(s\) allow-listed as inert kept as records, never interpreted \(optimizers\.WarmupLinearSchedule\)/);
    d.close();
    const u = open('superb_downstream');
    expect(pyGet(u.root, 'Args', 'upstream')).toBe('hubert_local');
    expect(pyGet(u.root, 'Args', 'downstream')).toBe('speech_commands');
    expect(pyGet(u.root, 'Config', 'downstream_expert', 'modelrc', 'select')).toBe('UtteranceLevel');
    expect([...(u.root as Map<string, unknown>).keys()]).toEqual(['Optimizer', 'Step', 'Epoch', 'Args', 'Config', 'Featurizer', 'Downstream']);
    expect([...(pyGet(u.root, 'Downstream') as Map<string, unknown>).keys()][0]).toBe('best_score');
    u.close();
    const f = open('superb_ks_upstream');
    expect([...(f.root as Map<string, unknown>).keys()]).toEqual(['Optimizer', 'Step', 'Epoch', 'Args', 'Config', 'Upstream', 'Featurizer', 'Downstream']);
    expect(pyGet(f.root, 'Args', 'upstream_trainable')).toBe(true);
    f.close();
  });

  test('every fixture reads under the allow-list; every global it names is on it; the old strict flag changes nothing', () => {
    const files = [...readdirSync(join(ROOT, 'checkpoints')).filter((f) => /\.(pt|ckpt)$/.test(f)).map((f) => join(ROOT, 'checkpoints', f)), join(ROOT, 'hf-bin', 'fairseq_base_dict', 'pytorch_model.bin')];
    expect(files.length).toBe(25);
    for (const file of files) {
      const plain = readCheckpoint(file);
      const strict = readCheckpoint(file, { strict: true });
      expect(plain.globals.every((g) => ALLOWED.has(g.name) && g.handling !== 'user-allowed'), file).toBe(true);
      expect(strict.globals).toEqual(plain.globals);
      expect(plain.allowedGlobals).toEqual([]);
      plain.close();
      strict.close();
    }
  });
});
