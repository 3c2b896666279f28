import { type DropRule, type MappingTable, type RenameRule, weightAndBias } from '../engine.js';

/**
 * fairseq HuBERT (`fairseq/models/hubert/hubert.py`) → transformers HubertModel. Read side by side with
 * ../shared/docs/formats.md Appendix A. Fine-tuned (HubertCtc) keys have their `w2v_encoder.w2v_model.` prefix
 * stripped before this table applies; s3prl's converted checkpoints use these same names.
 */

/** The feature encoder, projection and transformer: shared by fairseq, s3prl and DistilHuBERT. */
export const ENCODER_RENAMES: readonly RenameRule[] = [
  ...weightAndBias('feature_extractor.conv_layers.{n}.conv', 'feature_extractor.conv_layers.{n}.0'),
  // group mode: Fp32GroupNorm sits at index 2 of layer 0; layer mode: Sequential(TransposeLast, Fp32LayerNorm, TransposeLast)
  ...weightAndBias('feature_extractor.conv_layers.{n}.layer_norm', 'feature_extractor.conv_layers.{n}.2', 'feature_extractor.conv_layers.{n}.2.1'),
  ...weightAndBias('feature_projection.projection', 'post_extract_proj'),
  ...weightAndBias('encoder.layer_norm', 'encoder.layer_norm'),
  ...weightAndBias('encoder.layers.{n}.attention.q_proj', 'encoder.layers.{n}.self_attn.q_proj'),
  ...weightAndBias('encoder.layers.{n}.attention.k_proj', 'encoder.layers.{n}.self_attn.k_proj'),
  ...weightAndBias('encoder.layers.{n}.attention.v_proj', 'encoder.layers.{n}.self_attn.v_proj'),
  ...weightAndBias('encoder.layers.{n}.attention.out_proj', 'encoder.layers.{n}.self_attn.out_proj'),
  ...weightAndBias('encoder.layers.{n}.layer_norm', 'encoder.layers.{n}.self_attn_layer_norm'),
  ...weightAndBias('encoder.layers.{n}.feed_forward.intermediate_dense', 'encoder.layers.{n}.fc1'),
  ...weightAndBias('encoder.layers.{n}.feed_forward.output_dense', 'encoder.layers.{n}.fc2'),
  ...weightAndBias('encoder.layers.{n}.final_layer_norm', 'encoder.layers.{n}.final_layer_norm'),
];

/** Weight-normed positional convolution: Sequential(Conv1d with weight_norm(dim=2), SamePad, GELU). */
export const WEIGHT_NORM_POS_CONV: readonly RenameRule[] = [
  { hf: 'encoder.pos_conv_embed.conv.weight_g', from: ['encoder.pos_conv.0.weight_g'] },
  { hf: 'encoder.pos_conv_embed.conv.weight_v', from: ['encoder.pos_conv.0.weight_v'] },
  { hf: 'encoder.pos_conv_embed.conv.bias', from: ['encoder.pos_conv.0.bias'] },
];

/** `conv_pos_batch_norm`: Sequential(BatchNorm1d, Conv1d, SamePad, GELU). */
export const BATCH_NORM_POS_CONV: readonly RenameRule[] = [
  ...weightAndBias('encoder.pos_conv_embed.batch_norm', 'encoder.pos_conv.0'),
  { hf: 'encoder.pos_conv_embed.batch_norm.running_mean', from: ['encoder.pos_conv.0.running_mean'] },
  { hf: 'encoder.pos_conv_embed.batch_norm.running_var', from: ['encoder.pos_conv.0.running_var'] },
  { hf: 'encoder.pos_conv_embed.batch_norm.num_batches_tracked', from: ['encoder.pos_conv.0.num_batches_tracked'] },
  ...weightAndBias('encoder.pos_conv_embed.conv', 'encoder.pos_conv.1'),
];

/** HuBERT's own extras: the LayerNorm before post_extract_proj, and the mask embedding. */
export const HUBERT_EXTRAS: readonly RenameRule[] = [
  ...weightAndBias('feature_projection.layer_norm', 'layer_norm'),
  { hf: 'masked_spec_embed', from: ['mask_emb'] },
];

export const PRETRAINING_DROPS: readonly DropRule[] = [
  { pattern: 'label_embs_concat', reason: 'pretraining target embeddings (k-means cluster codebook); not part of the encoder' },
  { pattern: 'final_proj.*', reason: 'pretraining projection onto the cluster targets; not part of the encoder' },
  { pattern: 'target_glu.*', reason: 'pretraining target GLU; not part of the encoder' },
];

/** The rule applied when the HF config has no masking (mask_time_prob = mask_feature_prob = 0). */
export const MASK_EMB_UNUSED: DropRule = {
  pattern: 'mask_emb',
  reason: 'SpecAugment mask embedding; the HF config has mask_time_prob = mask_feature_prob = 0, so HF has no masked_spec_embed',
};

export function fairseqHubertTable(options: { posConvBatchNorm: boolean; keepMaskEmb: boolean }): MappingTable {
  return {
    name: options.posConvBatchNorm ? 'fairseq-hubert (batch-norm pos-conv)' : 'fairseq-hubert',
    renames: [
      ...ENCODER_RENAMES,
      ...(options.posConvBatchNorm ? BATCH_NORM_POS_CONV : WEIGHT_NORM_POS_CONV),
      ...HUBERT_EXTRAS.filter((r) => options.keepMaskEmb || r.hf !== 'masked_spec_embed'),
    ],
    drops: [...PRETRAINING_DROPS, ...(options.keepMaskEmb ? [] : [MASK_EMB_UNUSED])],
  };
}

/** fairseq HubertCtc's head, matched on the full key (the encoder part is matched after stripping its prefix). */
export const CTC_HEAD_TABLE: MappingTable = {
  name: 'fairseq-hubert-ctc head',
  renames: weightAndBias('lm_head', 'w2v_encoder.proj'),
  drops: [],
};

export const CTC_ENCODER_PREFIX = 'w2v_encoder.w2v_model.';
