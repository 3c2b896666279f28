import { type DropRule, type MappingTable, type SplitRule, weightAndBias } from '../engine.js';

/**
 * bshall/hubert (`hubert/model.py` `Hubert`, the base of HubertSoft and HubertDiscrete) → transformers HubertModel.
 * Its encoder is torch's `nn.TransformerEncoderLayer` (post-LN, fused q/k/v), the rest a HuBERT of its own names.
 * Keys are matched after the `module.` prefix of a DistributedDataParallel state dict is stripped.
 */
export const BSHALL_DDP_PREFIX = 'module.';

const LAYER = 'encoder.layers.{n}';

export const BSHALL_RENAMES = [
  { hf: 'masked_spec_embed', from: ['masked_spec_embed'] },
  { hf: 'feature_extractor.conv_layers.{n}.conv.weight', from: ['feature_extractor.conv{n}.weight'] },
  // GroupNorm(512, 512) after conv0 only: HF's group-norm extractor
  ...weightAndBias('feature_extractor.conv_layers.0.layer_norm', 'feature_extractor.norm0'),
  ...weightAndBias('feature_projection.layer_norm', 'feature_projection.norm'),
  ...weightAndBias('feature_projection.projection', 'feature_projection.projection'),
  // weight-normed Conv1d(dim=2): the old hook names (every torch.hub release) and parametrizations (train.py since 2024)
  { hf: 'encoder.pos_conv_embed.conv.weight_g', from: ['positional_embedding.conv.weight_g', 'positional_embedding.conv.parametrizations.weight.original0'] },
  { hf: 'encoder.pos_conv_embed.conv.weight_v', from: ['positional_embedding.conv.weight_v', 'positional_embedding.conv.parametrizations.weight.original1'] },
  { hf: 'encoder.pos_conv_embed.conv.bias', from: ['positional_embedding.conv.bias'] },
  // applied before the layers, as HF's post-LN encoder.layer_norm is
  ...weightAndBias('encoder.layer_norm', 'norm'),
  ...weightAndBias(`${LAYER}.attention.out_proj`, `${LAYER}.self_attn.out_proj`),
  ...weightAndBias(`${LAYER}.feed_forward.intermediate_dense`, `${LAYER}.linear1`),
  ...weightAndBias(`${LAYER}.feed_forward.output_dense`, `${LAYER}.linear2`),
  ...weightAndBias(`${LAYER}.layer_norm`, `${LAYER}.norm1`),
  ...weightAndBias(`${LAYER}.final_layer_norm`, `${LAYER}.norm2`),
];

/** nn.MultiheadAttention packs the input projections as rows [q; k; v] of one weight and one bias. */
export const BSHALL_SPLITS: readonly SplitRule[] = ['weight', 'bias'].map((p) => ({
  from: `${LAYER}.self_attn.in_proj_${p}`,
  into: ['q', 'k', 'v'].map((x) => `${LAYER}.attention.${x}_proj.${p}`),
}));

export const LABEL_EMBEDDING_DROP: DropRule = {
  pattern: 'label_embedding.weight',
  reason: "the target-unit embeddings of bshall's training loss (cosine similarity to proj's output); not part of the encoder",
};

export const DISCRETE_PROJ_DROP: DropRule = {
  pattern: 'proj.*',
  reason: "the training-loss projection of HubertDiscrete; its units() quantises layer 7's output with k-means and never applies proj",
};

export function bshallTable(variant: 'soft' | 'discrete'): MappingTable {
  return {
    name: `bshall-hubert-${variant}`,
    renames: BSHALL_RENAMES,
    splits: BSHALL_SPLITS,
    drops: [LABEL_EMBEDDING_DROP, ...(variant === 'discrete' ? [DISCRETE_PROJ_DROP] : [])],
  };
}
