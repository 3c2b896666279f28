import { UnsupportedModelError } from '../errors.js';
import type { CfgReader } from './cfg-fields.js';

/**
 * The architecture-relevant part of a fairseq/s3prl model config, with fairseq's own field names normalised.
 * Defaults are those of the dataclass that wrote each field (fairseq `HubertConfig`, s3prl `DistillerConfig`).
 */
export interface EncoderSpec {
  extractorMode: 'default' | 'layer_norm';
  convFeatureLayers: string;
  convBias: boolean;
  encoderLayers: number;
  embedDim: number;
  ffnDim: number;
  heads: number;
  activationFn: string;
  layerNormFirst: boolean;
  convPos: number;
  convPosGroups: number;
  convPosBatchNorm: boolean;
  dropout: number;
  attentionDropout: number;
  activationDropout: number;
  layerdrop: number;
  dropoutInput: number;
  maskProb: number;
  maskLength: number;
  maskChannelProb: number;
  maskChannelLength: number;
}

const FAIRSEQ_CONV = '[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2';

function checkedExtractorMode(value: string, where: string): EncoderSpec['extractorMode'] {
  if (value === 'default' || value === 'layer_norm') return value;
  throw new UnsupportedModelError('E_EXTRACTOR_MODE', `${where}.extractor_mode is "${value}"; HuBERT supports "default" (group norm) and "layer_norm"`);
}

/** fairseq `HubertConfig` (fairseq/models/hubert/hubert.py). s3prl's converted model_cfg uses the same fields. */
export function fairseqEncoderSpec(m: CfgReader): EncoderSpec {
  const layerType = m.string('layer_type', 'transformer');
  if (layerType !== 'transformer') {
    throw new UnsupportedModelError('E_LAYER_TYPE', `${m.where}.layer_type is "${layerType}"; only "transformer" encoders exist in transformers' HuBERT`);
  }
  return {
    extractorMode: checkedExtractorMode(m.string('extractor_mode', 'default'), m.where),
    convFeatureLayers: m.string('conv_feature_layers', FAIRSEQ_CONV),
    convBias: m.boolean('conv_bias', false),
    encoderLayers: m.number('encoder_layers', 12),
    embedDim: m.number('encoder_embed_dim', 768),
    ffnDim: m.number('encoder_ffn_embed_dim', 3072),
    heads: m.number('encoder_attention_heads', 12),
    activationFn: m.string('activation_fn', 'gelu'),
    layerNormFirst: m.boolean('layer_norm_first', false),
    convPos: m.number('conv_pos', 128),
    convPosGroups: m.number('conv_pos_groups', 16),
    convPosBatchNorm: m.boolean('conv_pos_batch_norm', false),
    dropout: m.number('dropout', 0.1),
    attentionDropout: m.number('attention_dropout', 0.1),
    activationDropout: m.number('activation_dropout', 0.0),
    layerdrop: m.number('encoder_layerdrop', 0.0),
    dropoutInput: m.number('dropout_input', 0.0),
    maskProb: m.number('mask_prob', 0.65),
    maskLength: m.number('mask_length', 10),
    maskChannelProb: m.number('mask_channel_prob', 0.0),
    maskChannelLength: m.number('mask_channel_length', 10),
  };
}

/**
 * fairseq HubertCtc: the architecture is the pretraining model's (`w2v_args.model`), and HubertEncoder overrides
 * the regularisation fields with the fine-tuning config's values when it builds the model.
 */
export function fairseqCtcEncoderSpec(finetune: CfgReader, pretrainModel: CfgReader): EncoderSpec {
  const spec = fairseqEncoderSpec(pretrainModel);
  return {
    ...spec,
    dropout: finetune.number('dropout', spec.dropout),
    attentionDropout: finetune.number('attention_dropout', spec.attentionDropout),
    activationDropout: finetune.number('activation_dropout', spec.activationDropout),
    layerdrop: finetune.number('layerdrop', spec.layerdrop),
    dropoutInput: finetune.number('dropout_input', spec.dropoutInput),
    maskProb: finetune.number('mask_prob', spec.maskProb),
    maskLength: finetune.number('mask_length', spec.maskLength),
    maskChannelProb: finetune.number('mask_channel_prob', spec.maskChannelProb),
    maskChannelLength: finetune.number('mask_channel_length', spec.maskChannelLength),
  };
}

/** s3prl `DistillerConfig` (s3prl/upstream/distiller/model.py). */
export function distillerEncoderSpec(d: CfgReader): EncoderSpec {
  return {
    extractorMode: checkedExtractorMode(d.string('extractor_mode', 'default'), d.where),
    convFeatureLayers: d.string('extractor_conv_feature_layers', FAIRSEQ_CONV),
    convBias: false, // the distiller builds its extractor with conv_bias=False
    encoderLayers: d.number('encoder_layers', 1),
    embedDim: d.number('encoder_embed_dim', 768),
    ffnDim: d.number('encoder_ffn_embed_dim', 3072),
    heads: d.number('encoder_attention_heads', 12),
    activationFn: d.string('activation_fn', 'gelu'),
    layerNormFirst: d.boolean('layer_norm_first', false),
    convPos: d.number('conv_pos', 128),
    convPosGroups: d.number('conv_pos_groups', 16),
    convPosBatchNorm: false,
    dropout: d.number('dropout', 0.1),
    attentionDropout: d.number('attention_dropout', 0.1),
    activationDropout: d.number('activation_dropout', 0.1),
    layerdrop: d.number('encoder_layerdrop', 0.0),
    dropoutInput: 0,
    maskProb: 0,
    maskLength: 10,
    maskChannelProb: 0,
    maskChannelLength: 10,
  };
}
