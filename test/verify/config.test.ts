import { describe, expect, it } from 'vitest';
import { HUBERT_CONFIG_DEFAULTS } from '../../src/hf-defaults.js';
import type { HfModel } from '../../src/model.js';
import { checkConfig } from '../../src/verify/checks/config.js';
import { goldenNames, hfDir, loadHfModel } from './helpers.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function fixture(name: string): { model: HfModel; raw: Record<string, unknown> } {
  const model = loadHfModel(hfDir(name));
  return { model, raw: JSON.parse(readFileSync(join(hfDir(name), 'config.json'), 'utf8')) as Record<string, unknown> };
}

function withConfig(f: { model: HfModel; raw: Record<string, unknown> }, patch: Record<string, unknown>, remove: string[] = []) {
  const raw = { ...f.raw, ...patch };
  for (const key of remove) delete raw[key];
  return checkConfig({ ...f.model, config: { ...HUBERT_CONFIG_DEFAULTS, ...raw } as HfModel['config'] }, raw);
}

function failures(result: ReturnType<typeof checkConfig>): string[] {
  return result.items.filter((i) => !i.passed).map((i) => `${i.subject}: ${i.message}`);
}

describe('config check', () => {
  for (const name of goldenNames()) {
    it(`passes on the transformers-written folder ${name}`, () => {
      const f = fixture(name);
      const result = checkConfig(f.model, f.raw);
      expect(failures(result)).toEqual([]);
      expect(result.passed).toBe(true);
      expect(result.items.find((i) => i.subject === 'frame formula')?.message).toBe('frames = floor((L − k)/s) + 1 per conv layer: 1 s (16000 samples) → 49 frames; inputs_to_logits_ratio 320');
    });
  }

  it('names a wrong feat_proj_layer_norm', () => {
    const result = withConfig(fixture('fairseq_base_dict'), { feat_proj_layer_norm: false });
    expect(result.passed).toBe(false);
    expect(failures(result)).toContain(
      'feat_proj_layer_norm: feat_proj_layer_norm is false but the weights have feature_projection.layer_norm.weight/bias; set it to true (the LayerNorm would otherwise be skipped)',
    );
  });

  it('names a dropped encoder layer', () => {
    const f = fixture('fairseq_large_dictconfig');
    const tensors = new Map([...f.model.tensors].filter(([n]) => !n.startsWith('encoder.layers.1.')));
    const result = checkConfig({ ...f.model, tensors }, f.raw);
    expect(failures(result)).toContain('num_hidden_layers: num_hidden_layers is 3 but the weights have encoder layers [0, 2]; layer(s) 1 missing');
    expect(failures(result).find((m) => m.startsWith('tensors present'))).toMatch(/^tensors present: 16 tensor\(s\) the config implies are missing: encoder\.layers\.1\.attention\.q_proj\.weight/);
  });

  it('names layers beyond num_hidden_layers', () => {
    const result = withConfig(fixture('fairseq_base_dict'), { num_hidden_layers: 1 });
    expect(failures(result)).toContain('num_hidden_layers: num_hidden_layers is 1 but the weights have encoder layers [0, 1]; layer(s) 1 beyond the config');
  });

  it('names vocab_size and num_labels that disagree with the heads', () => {
    expect(failures(withConfig(fixture('fairseq_ctc'), { vocab_size: 40 }))).toContain('vocab_size: vocab_size is 40 but lm_head.weight has 32 rows');
    expect(failures(withConfig(fixture('superb_downstream'), { id2label: { 0: 'a', 1: 'b' } }))).toContain(
      'num_labels: config.json has 2 labels (id2label/num_labels) but classifier.weight has 12 rows',
    );
  });

  it('names structural errors: heads, conv stack lengths, pos-conv groups vs weight shape', () => {
    expect(failures(withConfig(fixture('fairseq_base_dict'), { num_attention_heads: 5 }))).toContain('attention heads: hidden_size 32 is not divisible by num_attention_heads 5');
    expect(failures(withConfig(fixture('fairseq_base_dict'), { conv_stride: [5, 2, 2, 2, 2, 2] }))).toContain(
      'conv stack: conv_dim has 7 entries, conv_stride 6, conv_kernel 7, num_feat_extract_layers is 7; they must all be equal',
    );
    expect(failures(withConfig(fixture('fairseq_base_dict'), { num_conv_pos_embedding_groups: 8 }))).toContain(
      'pos-conv shape: encoder.pos_conv_embed.conv.weight_v has shape [32, 8, 16] but num_conv_pos_embedding_groups 8 and num_conv_pos_embeddings 16 imply [32, 4, 16]',
    );
  });

  it('names missing and ill-typed fields', () => {
    const result = withConfig(fixture('fairseq_base_dict'), { layer_norm_eps: -1 }, ['conv_pos_batch_norm']);
    // the missing switch takes transformers' default (false), which agrees with the weights
    expect(failures(result)).toEqual([
      'field layer_norm_eps: config.json layer_norm_eps = -1 is not a small positive number',
      'field conv_pos_batch_norm: config.json has no "conv_pos_batch_norm"; transformers would fill in its default silently. Write it explicitly (re-run the conversion)',
    ]);
  });

  it('holds preprocessor_config.json to the model: 16 kHz Wav2Vec2FeatureExtractor, mask iff layer-norm', () => {
    const f = fixture('fairseq_base_dict');
    const preprocessor = { ...f.model.preprocessor, return_attention_mask: true, sampling_rate: 22050 } as unknown as HfModel['preprocessor'];
    expect(failures(checkConfig({ ...f.model, preprocessor }, f.raw))).toEqual([
      'preprocessor: preprocessor_config.json: sampling_rate is 22050, not 16000; return_attention_mask is true but a group-norm model was trained on zero-padded input without one; set it to false',
    ]);
    expect(failures(checkConfig({ ...f.model, preprocessor: {} as HfModel['preprocessor'] }, f.raw))).toEqual([
      'preprocessor: the folder has no preprocessor_config.json; transformers and transformers.js need it to prepare audio',
    ]);
  });

  it('names the batch-norm pos-conv switch and unexpected tensors', () => {
    const result = withConfig(fixture('fairseq_bn_posconv'), { conv_pos_batch_norm: false });
    const messages = failures(result);
    expect(messages).toContain('conv_pos_batch_norm: conv_pos_batch_norm is false but the weights have encoder.pos_conv_embed.batch_norm.*; set it to true');
    expect(messages.find((m) => m.startsWith('no unexpected tensors'))).toBe(
      'no unexpected tensors: 6 tensor(s) the config does not account for: encoder.pos_conv_embed.batch_norm.num_batches_tracked, encoder.pos_conv_embed.batch_norm.bias, encoder.pos_conv_embed.batch_norm.running_mean, encoder.pos_conv_embed.batch_norm.running_var, encoder.pos_conv_embed.batch_norm.weight, encoder.pos_conv_embed.conv.weight',
    );
  });
});
