/**
 * Detection by what a file declares (`cfg.model._name`, `args.arch`, `model_cfg._name`, `layer_type`), then by
 * structure; the families hubert-convert does not convert are refused by name (exit 5, E_UNSUPPORTED_FAMILY). The
 * inputs are real fixtures edited to carry the key names and config the real files of each family have
 * (../shared/docs/real-world.md).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectSource } from '../../src/mappings/index.js';
import { readCheckpoint } from '../../src/readers/index.js';
import { MemoryTensor } from '../../src/tensor.js';
import { cli } from '../helpers/cli.js';
import { CONVERTIBLE, fixture } from '../helpers/fixtures.js';
import { errorCode } from '../helpers/sandbox.js';
import { torchSave } from '../helpers/torch-save.js';

type Tree = Map<unknown, unknown>;
const root = mkdtempSync(join(tmpdir(), 'families-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function at(tree: Tree, ...path: string[]): Tree {
  return path.reduce<Tree>((v, k) => v.get(k) as Tree, tree);
}

/** A fixture edited by `edit` (which may return `{ root }`, a new top level), saved with torch.save's layout. */
function made(file: string, edit: (tree: Tree) => unknown): string {
  const c = readCheckpoint(fixture(`checkpoints/${file}`));
  const result = edit(c.root as Tree);
  const tree = result && typeof result === 'object' && 'root' in result ? (result as { root: Tree }).root : (c.root as Tree);
  const path = join(root, `${n++}-${file}`);
  writeFileSync(path, torchSave(tree));
  c.close();
  return path;
}

const zeros = (shape: number[]): MemoryTensor => new MemoryTensor('F32', shape, new Uint8Array(shape.reduce((a, d) => a * d, 1) * 4));

function refusedAs(path: string, family: string, evidence: string): void {
  const run = cli(['convert', path, '--out', join(root, `out-${n++}`)]);
  expect(run.status).toBe(5);
  expect(errorCode(run.stderr)).toBe('E_UNSUPPORTED_FAMILY');
  expect(run.stderr).toContain(`this is a ${family} checkpoint (${evidence}), not HuBERT; hubert-convert converts HuBERT models only`);
}

describe('refused families', () => {
  it('a wav2vec 2.0 CTC fine-tune (keys like HubertCtc) by cfg.model._name', () => {
    const path = made('fairseq_ctc.pt', (t) => {
      at(t, 'cfg', 'model').set('_name', 'wav2vec_ctc');
      at(t, 'cfg', 'model', 'w2v_args', 'model').set('_name', 'wav2vec2');
    });
    refusedAs(path, 'wav2vec 2.0', 'cfg.model._name is "wav2vec_ctc"');
  });

  it('a wav2vec 2.0 pretrained checkpoint by _name, and by its quantizer without one', () => {
    refusedAs(made('fairseq_base_dict.pt', (t) => at(t, 'cfg', 'model').set('_name', 'wav2vec2')), 'wav2vec 2.0', 'cfg.model._name is "wav2vec2"');
    const quantizer = made('fairseq_base_dict.pt', (t) => {
      at(t, 'cfg', 'model').delete('_name');
      at(t, 'model').set('quantizer.vars', zeros([1, 640, 16]));
      at(t, 'model').set('project_q.weight', zeros([32, 16]));
    });
    refusedAs(quantizer, 'wav2vec 2.0', 'its state dict has a quantizer (quantizer.vars)');
  });

  it('an s3prl-converted wav2vec 2.0 by model_cfg._name', () => {
    refusedAs(made('s3prl_hubert.pt', (t) => at(t, 'model_cfg').set('_name', 'wav2vec2')), 'wav2vec 2.0', 'model_cfg._name is "wav2vec2"');
  });

  it('WavLM: a flat cfg with relative_position_embedding (used to be a misleading E_NO_CONFIG)', () => {
    const path = made('fairseq_base_dict.pt', (t) => {
      // WavLM-Base.pt: {"cfg": WavLMConfig.__dict__ (flat), "model": state dict} with gated relative position bias
      const cfg = new Map(at(t, 'cfg', 'model'));
      cfg.delete('_name');
      for (const [k, v] of [['relative_position_embedding', true], ['num_buckets', 320], ['max_distance', 800], ['gru_rel_pos', true]] as const) cfg.set(k, v);
      const model = new Map(at(t, 'model'));
      for (const layer of [0, 1]) {
        model.set(`encoder.layers.${layer}.self_attn.grep_linear.weight`, zeros([8, 4]));
        model.set(`encoder.layers.${layer}.self_attn.grep_linear.bias`, zeros([8]));
        model.set(`encoder.layers.${layer}.self_attn.grep_a`, zeros([1, 4, 1, 1]));
      }
      model.set('encoder.layers.0.self_attn.relative_attention_bias.weight', zeros([320, 4]));
      return { root: new Map<unknown, unknown>([['cfg', cfg], ['model', model]]) };
    });
    refusedAs(path, 'WavLM', 'its flat "cfg" has relative_position_embedding (a WavLMConfig)');
  });

  it('WavLM by its keys alone', () => {
    const c = readCheckpoint(fixture('checkpoints/fairseq_base_dict.pt'));
    const tree = c.root as Tree;
    at(tree, 'cfg', 'model').delete('_name');
    at(tree, 'model').set('encoder.layers.0.self_attn.grep_linear.weight', zeros([8, 4]));
    expect(() => detectSource(tree, 'x.pt')).toThrow(/WavLM checkpoint \(its state dict has gated relative position bias weights \(encoder\.layers\.0\.self_attn\.grep_linear\.weight\)\)/);
    c.close();
  });

  it('data2vec-audio by _name and by its stacked positional convolution (used to be taken for HuBERT)', () => {
    const data2vec = (t: Tree) => {
      const model = at(t, 'model');
      for (const k of ['encoder.pos_conv.0.weight_g', 'encoder.pos_conv.0.weight_v', 'encoder.pos_conv.0.bias']) model.delete(k);
      // data2vec_audio: conv_pos_depth 5, each block Sequential(Conv1d, SamePad, TransposeLast, LayerNorm, TransposeLast, GELU)
      for (let i = 0; i < 5; i++) {
        model.set(`encoder.pos_conv.${i}.0.weight`, zeros([32, 2, 19]));
        model.set(`encoder.pos_conv.${i}.0.bias`, zeros([32]));
      }
      model.set('final_proj.0.weight', zeros([32, 32]));
    };
    refusedAs(made('fairseq_base_dict.pt', (t) => {
      data2vec(t);
      at(t, 'cfg', 'model').set('_name', 'data2vec_audio');
    }), 'data2vec-audio', 'cfg.model._name is "data2vec_audio"');
    refusedAs(made('fairseq_base_dict.pt', (t) => {
      data2vec(t);
      at(t, 'cfg', 'model').delete('_name');
    }), 'data2vec-audio', 'its state dict has a stacked positional convolution (encoder.pos_conv.1.0.weight)');
  });

  it('a conformer encoder by layer_type, also inside a fine-tune\'s w2v_args', () => {
    refusedAs(made('fairseq_base_dict.pt', (t) => at(t, 'cfg', 'model').set('layer_type', 'conformer')), 'conformer', 'cfg.model.layer_type is "conformer"');
    refusedAs(made('fairseq_ctc.pt', (t) => at(t, 'cfg', 'model', 'w2v_args', 'model').set('layer_type', 'conformer')), 'conformer', 'cfg.model.w2v_args.model.layer_type is "conformer"');
  });

});

describe('detection of the sources that convert', () => {
  const evidence: Record<string, string> = {
    fairseq_base_dict: 'cfg.model._name is "hubert"',
    fairseq_base_namespace: 'args.arch is "hubert"',
    fairseq_ctc: 'cfg.model._name is "hubert_ctc"',
    s3prl_hubert: 'model_cfg._name is "hubert", with "task_cfg", "model_cfg" and "model_weight" (s3prl converted checkpoint)',
    distilhubert: 'has "Distiller" and "Config" (s3prl distiller checkpoint)',
    superb_downstream: 'has "Downstream" and "Featurizer" (s3prl downstream checkpoint)',
  };
  it.each(CONVERTIBLE.filter((f) => f.name in evidence))('$name: by what it declares, else by structure', (f) => {
    const c = readCheckpoint(fixture(`checkpoints/${f.file}`));
    expect(detectSource(c.root, c.file)).toEqual({ kind: f.kind, evidence: evidence[f.name] });
    c.close();
  });

  it('falls back to structure when the declared name is one it does not know', () => {
    const c = readCheckpoint(fixture('checkpoints/fairseq_base_dict.pt'));
    at(c.root as Tree, 'cfg', 'model').set('_name', 'hubert_custom');
    expect(detectSource(c.root, c.file)).toEqual({ kind: 'fairseq-hubert', evidence: 'has "model" with fairseq HubertModel keys and a config' });
    c.close();
  });
});
