import { CorruptInputError, UnsupportedModelError } from '../errors.js';
import { HUBERT_CONFIG_DEFAULTS, HUBERT_NAMES as N, basePrefixFor, hubertPreprocessor } from '../architectures/hubert/index.js';
import type { HfArchitecture, HubertConfig, PreprocessorConfig } from '../model.js';
import type { TensorData } from '../tensor.js';
import { parseConvFeatureLayers } from './conv-layers.js';
import type { EncoderSpec } from './encoder-spec.js';
import { configViolations } from '../architectures/validate.js';
import { describeViolation } from '../architectures/hubert/config.js';

/** fairseq activation names → transformers ACT2FN names. */
const ACTIVATIONS: Readonly<Record<string, string>> = {
  gelu: 'gelu', // exact erf GELU in both
};

/**
 * Pretraining checkpoints have no head and so no final dropout; HubertModel never reads the field. We write
 * transformers' own default, so a head added later by fine-tuning in transformers behaves as it would from scratch.
 */
export const PRETRAINED_FINAL_DROPOUT = 0.1;

export interface ConfigOverrides {
  architecture: HfArchitecture;
  featProjLayerNorm: boolean;
  applySpecAugment: boolean;
  finalDropout: number;
  vocabSize?: number;
}

/**
 * Derives a complete HubertConfig from the source config and cross-checks every derivable number against the
 * tensors (HF names), so a config that disagrees with its weights is caught here and not at load time.
 */
export function deriveHubertConfig(spec: EncoderSpec, tensors: ReadonlyMap<string, TensorData>, o: ConfigOverrides): HubertConfig {
  const conv = parseConvFeatureLayers(spec.convFeatureLayers);
  const hidden_act = ACTIVATIONS[spec.activationFn];
  if (!hidden_act) {
    throw new UnsupportedModelError('E_ACTIVATION', `activation_fn "${spec.activationFn}" is not supported; HuBERT checkpoints use "gelu"`);
  }
  const config: HubertConfig = {
    // what a checkpoint does not determine (initialisation, CTC loss settings, token ids, head defaults, minimum
    // mask counts) keeps transformers' defaults; everything below is derived
    ...HUBERT_CONFIG_DEFAULTS,
    architectures: [o.architecture],
    vocab_size: o.vocabSize ?? HUBERT_CONFIG_DEFAULTS.vocab_size,
    hidden_size: spec.embedDim,
    num_hidden_layers: spec.encoderLayers,
    num_attention_heads: spec.heads,
    intermediate_size: spec.ffnDim,
    hidden_act,
    hidden_dropout: spec.dropout,
    activation_dropout: spec.activationDropout,
    attention_dropout: spec.attentionDropout,
    feat_proj_layer_norm: o.featProjLayerNorm,
    feat_proj_dropout: spec.dropoutInput,
    final_dropout: o.finalDropout,
    layerdrop: spec.layerdrop,
    layer_norm_eps: 1e-5, // fairseq's LayerNorm default everywhere
    feat_extract_norm: spec.extractorMode === 'layer_norm' ? 'layer' : 'group',
    feat_extract_activation: 'gelu', // fairseq's conv blocks and pos-conv use GELU unconditionally
    conv_dim: conv.map((c) => c.dim),
    conv_stride: conv.map((c) => c.stride),
    conv_kernel: conv.map((c) => c.kernel),
    conv_bias: spec.convBias,
    num_feat_extract_layers: conv.length,
    num_conv_pos_embeddings: spec.convPos,
    num_conv_pos_embedding_groups: spec.convPosGroups,
    conv_pos_batch_norm: spec.convPosBatchNorm,
    do_stable_layer_norm: spec.layerNormFirst,
    apply_spec_augment: o.applySpecAugment,
    mask_time_prob: spec.maskProb,
    mask_time_length: spec.maskLength,
    mask_feature_prob: spec.maskChannelProb,
    mask_feature_length: spec.maskChannelLength,
  };
  refuseInvalid(config);
  crossCheck(config, tensors, basePrefixFor(o.architecture));
  return config;
}

/** The source config field each derived HF field comes from, for messages (fairseq names; s3prl uses the same). */
const SOURCE_FIELDS: Readonly<Record<string, string>> = {
  hidden_size: 'encoder_embed_dim',
  num_hidden_layers: 'encoder_layers',
  num_attention_heads: 'encoder_attention_heads',
  intermediate_size: 'encoder_ffn_embed_dim',
  num_conv_pos_embeddings: 'conv_pos',
  num_conv_pos_embedding_groups: 'conv_pos_groups',
  hidden_dropout: 'dropout',
  feat_proj_dropout: 'dropout_input',
  layerdrop: 'encoder_layerdrop',
  mask_time_prob: 'mask_prob',
  mask_time_length: 'mask_length',
  mask_feature_prob: 'mask_channel_prob',
  mask_feature_length: 'mask_channel_length',
};

/** An absurd source config is refused by the spec's rules before anything is sized from it. */
function refuseInvalid(config: HubertConfig): void {
  const violations = configViolations(config);
  if (violations.length === 0) return;
  const named = violations.map((v) => {
    const source = v.field.split(', ').map((f) => SOURCE_FIELDS[f]).filter(Boolean);
    return `${describeViolation(v)}${source.length ? ` (the checkpoint's ${source.join(', ')})` : ''}`;
  });
  throw new CorruptInputError('E_CONFIG_INVALID', `the checkpoint's model config breaks ${violations.length} rule(s) of HubertConfig: ${named.join('; ')}; the file is damaged or not a model hubert-convert can build`, { violations });
}

function shapeOf(tensors: ReadonlyMap<string, TensorData>, name: string): readonly number[] | undefined {
  return tensors.get(name)?.shape;
}

function mismatch(what: string, fromConfig: unknown, fromTensors: unknown): never {
  throw new CorruptInputError(
    'E_CONFIG_MISMATCH',
    `the checkpoint's config says ${what} = ${JSON.stringify(fromConfig)} but its tensors say ${JSON.stringify(fromTensors)}; the file is inconsistent (wrong config for these weights?)`,
    { what, fromConfig, fromTensors },
  );
}

/** Every number the tensors can tell us must agree with the config. */
function crossCheck(c: HubertConfig, tensors: ReadonlyMap<string, TensorData>, p: string): void {
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new CorruptInputError('E_CONFIG_MISMATCH', `hidden size ${c.hidden_size} is not divisible by ${c.num_attention_heads} attention heads`);
  }
  let inChannels = 1;
  for (let i = 0; i < c.conv_dim.length; i++) {
    const s = shapeOf(tensors, `${p}${N.conv(i)}.weight`);
    if (!s) mismatch(`conv layer count`, c.conv_dim.length, `no tensor for conv layer ${i}`);
    const want = [c.conv_dim[i]!, inChannels, c.conv_kernel[i]!];
    if (s.join() !== want.join()) mismatch(`conv layer ${i} (dim, in, kernel)`, want, s);
    inChannels = c.conv_dim[i]!;
  }
  if (shapeOf(tensors, `${p}${N.conv(c.conv_dim.length)}.weight`)) {
    mismatch('conv layer count', c.conv_dim.length, 'more conv layers');
  }
  const hasConvBias = tensors.has(`${p}${N.conv(0)}.bias`);
  if (hasConvBias !== c.conv_bias) mismatch('conv_bias', c.conv_bias, hasConvBias);
  const hasLayerModeNorm = tensors.has(`${p}${N.convNorm(1)}.weight`);
  if (hasLayerModeNorm !== (c.feat_extract_norm === 'layer')) {
    mismatch('feature extractor norm', c.feat_extract_norm, hasLayerModeNorm ? 'a LayerNorm on every conv layer' : 'a GroupNorm on the first conv layer only');
  }
  const proj = shapeOf(tensors, `${p}${N.featProj}.weight`);
  if (proj && proj.join() !== [c.hidden_size, inChannels].join()) mismatch('feature projection [hidden, conv_dim[-1]]', [c.hidden_size, inChannels], proj);
  let layers = 0;
  while (tensors.has(`${p}${N.attention(layers)}.q_proj.weight`)) layers++;
  if (layers !== c.num_hidden_layers) mismatch('num_hidden_layers (encoder_layers)', c.num_hidden_layers, layers);
  const fc1 = shapeOf(tensors, `${p}${N.feedForward(0)}.intermediate_dense.weight`);
  if (fc1 && fc1.join() !== [c.intermediate_size, c.hidden_size].join()) mismatch('intermediate_size', [c.intermediate_size, c.hidden_size], fc1);
  const posConv = shapeOf(tensors, `${p}${N.posConv}.${c.conv_pos_batch_norm ? 'weight' : 'weight_v'}`);
  const wantPos = [c.hidden_size, c.hidden_size / c.num_conv_pos_embedding_groups, c.num_conv_pos_embeddings];
  if (!posConv || posConv.join() !== wantPos.join()) mismatch('positional conv [hidden, hidden/conv_pos_groups, conv_pos]', wantPos, posConv ?? 'missing');
}

/** preprocessor_config.json: normalisation as the model was trained (task.normalize); the rest is the spec's. */
export function derivePreprocessor(config: HubertConfig, doNormalize: boolean): PreprocessorConfig {
  return hubertPreprocessor(config, doNormalize);
}
