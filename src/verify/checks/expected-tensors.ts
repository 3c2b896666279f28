/**
 * The state dict a config implies (formats.md §1.2): name → shape, names without the `hubert.` prefix for base
 * tensors (heads keep their own names). Built from the config alone so the config check can hold the weights to it.
 */
import type { HubertConfig } from '../../model.js';

export interface ExpectedTensor {
  shape: number[];
  /** integer buffers (num_batches_tracked) */
  integer?: boolean;
}

function num(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

export function numLabelsOf(config: HubertConfig): number {
  if (config.id2label && typeof config.id2label === 'object') return Object.keys(config.id2label).length;
  return num(config.num_labels, 2); // PretrainedConfig's default id2label has two entries
}

export function hasMaskedSpecEmbed(config: HubertConfig): boolean {
  return num(config.mask_time_prob, 0.05) > 0 || num(config.mask_feature_prob, 0) > 0;
}

/** Base-model tensors (unprefixed). */
export function expectedBaseTensors(config: HubertConfig): Map<string, ExpectedTensor> {
  const out = new Map<string, ExpectedTensor>();
  const add = (name: string, shape: number[], integer = false) => out.set(name, integer ? { shape, integer } : { shape });
  const H = config.hidden_size;
  const convDim = config.conv_dim;
  for (let i = 0; i < convDim.length; i++) {
    const p = `feature_extractor.conv_layers.${i}`;
    add(`${p}.conv.weight`, [convDim[i]!, i === 0 ? 1 : convDim[i - 1]!, config.conv_kernel[i]!]);
    if (config.conv_bias) add(`${p}.conv.bias`, [convDim[i]!]);
    if (config.feat_extract_norm === 'layer' || i === 0) {
      add(`${p}.layer_norm.weight`, [convDim[i]!]);
      add(`${p}.layer_norm.bias`, [convDim[i]!]);
    }
  }
  const last = convDim[convDim.length - 1]!;
  if (config.feat_proj_layer_norm) {
    add('feature_projection.layer_norm.weight', [last]);
    add('feature_projection.layer_norm.bias', [last]);
  }
  add('feature_projection.projection.weight', [H, last]);
  add('feature_projection.projection.bias', [H]);
  if (hasMaskedSpecEmbed(config)) add('masked_spec_embed', [H]);
  const K = config.num_conv_pos_embeddings;
  const perGroup = H / config.num_conv_pos_embedding_groups;
  if (config.conv_pos_batch_norm) {
    for (const n of ['weight', 'bias', 'running_mean', 'running_var']) add(`encoder.pos_conv_embed.batch_norm.${n}`, [H]);
    add('encoder.pos_conv_embed.batch_norm.num_batches_tracked', [], true);
    add('encoder.pos_conv_embed.conv.weight', [H, perGroup, K]);
  } else {
    add('encoder.pos_conv_embed.conv.weight_g', [1, 1, K]);
    add('encoder.pos_conv_embed.conv.weight_v', [H, perGroup, K]);
  }
  add('encoder.pos_conv_embed.conv.bias', [H]);
  add('encoder.layer_norm.weight', [H]);
  add('encoder.layer_norm.bias', [H]);
  for (let n = 0; n < config.num_hidden_layers; n++) {
    const p = `encoder.layers.${n}`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      add(`${p}.attention.${proj}.weight`, [H, H]);
      add(`${p}.attention.${proj}.bias`, [H]);
    }
    for (const norm of ['layer_norm', 'final_layer_norm']) {
      add(`${p}.${norm}.weight`, [H]);
      add(`${p}.${norm}.bias`, [H]);
    }
    add(`${p}.feed_forward.intermediate_dense.weight`, [config.intermediate_size, H]);
    add(`${p}.feed_forward.intermediate_dense.bias`, [config.intermediate_size]);
    add(`${p}.feed_forward.output_dense.weight`, [H, config.intermediate_size]);
    add(`${p}.feed_forward.output_dense.bias`, [H]);
  }
  return out;
}

/** Head tensors of the architecture (full names). */
export function expectedHeadTensors(config: HubertConfig, architecture: string): Map<string, ExpectedTensor> {
  const out = new Map<string, ExpectedTensor>();
  const H = config.hidden_size;
  if (architecture === 'HubertForCTC') {
    out.set('lm_head.weight', { shape: [config.vocab_size, H] });
    out.set('lm_head.bias', { shape: [config.vocab_size] });
  } else if (architecture === 'HubertForSequenceClassification') {
    const P = config.classifier_proj_size;
    out.set('projector.weight', { shape: [P, H] });
    out.set('projector.bias', { shape: [P] });
    out.set('classifier.weight', { shape: [numLabelsOf(config), P] });
    out.set('classifier.bias', { shape: [numLabelsOf(config)] });
    if (config.use_weighted_layer_sum) out.set('layer_weights', { shape: [config.num_hidden_layers + 1] });
  }
  return out;
}
