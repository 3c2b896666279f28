/**
 * HuBERT's config.json (transformers HubertConfig; ../shared/docs/formats.md §1.1): every field with its type, range
 * and default, and the rules between fields that transformers enforces (or that the model needs to be buildable).
 * Ranges are generous bounds on real models (the largest released HuBERT has 48 layers of width 1280); they exist so
 * an absurd value is refused before anything is sized from it.
 */
import type { HubertConfigFields } from '../../model.js';
import type { ConfigField, ConfigViolation } from '../spec.js';

/** transformers' HubertConfig defaults: what from_pretrained fills in for a field config.json omits. */
export const HUBERT_CONFIG_DEFAULTS: Omit<HubertConfigFields, 'architectures' | 'num_feat_extract_layers'> = {
  model_type: 'hubert',
  vocab_size: 32,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu',
  hidden_dropout: 0.1,
  activation_dropout: 0.1,
  attention_dropout: 0.1,
  feat_proj_layer_norm: true,
  feat_proj_dropout: 0.0,
  final_dropout: 0.1,
  layerdrop: 0.1,
  initializer_range: 0.02,
  layer_norm_eps: 1e-5,
  feat_extract_norm: 'group',
  feat_extract_activation: 'gelu',
  conv_dim: [512, 512, 512, 512, 512, 512, 512],
  conv_stride: [5, 2, 2, 2, 2, 2, 2],
  conv_kernel: [10, 3, 3, 3, 3, 2, 2],
  conv_bias: false,
  num_conv_pos_embeddings: 128,
  num_conv_pos_embedding_groups: 16,
  conv_pos_batch_norm: false,
  do_stable_layer_norm: false,
  apply_spec_augment: true,
  mask_time_prob: 0.05,
  mask_time_length: 10,
  mask_time_min_masks: 2,
  mask_feature_prob: 0.0,
  mask_feature_length: 10,
  mask_feature_min_masks: 0,
  ctc_loss_reduction: 'sum',
  ctc_zero_infinity: false,
  use_weighted_layer_sum: false,
  classifier_proj_size: 256,
  pad_token_id: 0,
  bos_token_id: 1,
  eos_token_id: 2,
};

/** Activation names the graph builder and the reference implement (transformers ACT2FN names). */
export const HUBERT_ACTIVATIONS: readonly string[] = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'silu', 'swish'];

const int = (name: string, min: number, max: number): ConfigField => ({
  name,
  type: 'int',
  min,
  max,
  rule: min === 0 ? `an integer from 0 to ${max}` : `an integer from ${min} to ${max}`,
});
const prob = (name: string): ConfigField => ({ name, type: 'number', min: 0, max: 1, rule: 'a probability (0 to 1)' });
const bool = (name: string): ConfigField => ({ name, type: 'bool', rule: 'true or false' });
const oneOf = (name: string, values: readonly string[]): ConfigField => ({ name, type: 'enum', values, rule: values.map((v) => JSON.stringify(v)).join(' or ') });
const intList = (name: string): ConfigField => ({ name, type: 'int-list', min: 1, max: 65536, maxLength: 64, rule: 'a list of 1 to 64 integers from 1 to 65536' });

/** Every field hubert-convert writes, in config.json order. */
export const HUBERT_CONFIG_FIELDS: readonly ConfigField[] = [
  int('vocab_size', 1, 1_000_000),
  int('hidden_size', 1, 65536),
  int('num_hidden_layers', 1, 1000),
  int('num_attention_heads', 1, 65536),
  int('intermediate_size', 1, 1 << 20),
  oneOf('hidden_act', HUBERT_ACTIVATIONS),
  prob('hidden_dropout'),
  prob('activation_dropout'),
  prob('attention_dropout'),
  bool('feat_proj_layer_norm'),
  prob('feat_proj_dropout'),
  prob('final_dropout'),
  prob('layerdrop'),
  { name: 'initializer_range', type: 'number', min: 0, rule: 'a non-negative number' },
  { name: 'layer_norm_eps', type: 'number', min: 0, max: 1, exclusiveMin: true, exclusiveMax: true, rule: 'a small positive number' },
  oneOf('feat_extract_norm', ['group', 'layer']),
  oneOf('feat_extract_activation', HUBERT_ACTIVATIONS),
  intList('conv_dim'),
  intList('conv_stride'),
  intList('conv_kernel'),
  bool('conv_bias'),
  int('num_feat_extract_layers', 1, 64),
  int('num_conv_pos_embeddings', 1, 65536),
  int('num_conv_pos_embedding_groups', 1, 65536),
  bool('conv_pos_batch_norm'),
  bool('do_stable_layer_norm'),
  bool('apply_spec_augment'),
  prob('mask_time_prob'),
  int('mask_time_length', 1, 1 << 20),
  int('mask_time_min_masks', 0, 1 << 20),
  prob('mask_feature_prob'),
  int('mask_feature_length', 1, 1 << 20),
  int('mask_feature_min_masks', 0, 1 << 20),
  oneOf('ctc_loss_reduction', ['sum', 'mean']),
  bool('ctc_zero_infinity'),
  bool('use_weighted_layer_sum'),
  int('classifier_proj_size', 1, 1 << 20),
  int('pad_token_id', 0, 1_000_000),
  int('bos_token_id', 0, 1_000_000),
  int('eos_token_id', 0, 1_000_000),
];

/** The fields that size tensors: the tensor schema can be built only when these are valid. */
export const HUBERT_SHAPE_FIELDS: readonly string[] = [
  'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'conv_dim', 'conv_stride', 'conv_kernel',
  'num_conv_pos_embeddings', 'num_conv_pos_embedding_groups', 'vocab_size', 'classifier_proj_size',
];

function inRange(field: ConfigField, v: number): boolean {
  if (field.min !== undefined && (field.exclusiveMin ? v <= field.min : v < field.min)) return false;
  if (field.max !== undefined && (field.exclusiveMax ? v >= field.max : v > field.max)) return false;
  return true;
}

/** Whether `value` satisfies the field's type and range. */
export function fieldAccepts(field: ConfigField, value: unknown): boolean {
  switch (field.type) {
    case 'int':
      return Number.isInteger(value) && inRange(field, value as number);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) && inRange(field, value);
    case 'bool':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'enum':
      return typeof value === 'string' && (field.values ?? []).includes(value);
    case 'int-list':
      return Array.isArray(value) && value.length > 0 && value.length <= (field.maxLength ?? Infinity) && value.every((v) => Number.isInteger(v) && inRange(field, v as number));
  }
}

/**
 * Each field's own rule. `requireAll`: a field config.json omits is a violation too (verify holds our folders to
 * "every field explicit"); without it an absent field takes its default and is not checked.
 */
export function fieldViolations(config: Readonly<Record<string, unknown>>, options: { requireAll?: boolean; fields?: readonly string[] } = {}): ConfigViolation[] {
  const out: ConfigViolation[] = [];
  for (const field of HUBERT_CONFIG_FIELDS) {
    if (options.fields && !options.fields.includes(field.name)) continue;
    if (!(field.name in config) || config[field.name] === undefined) {
      if (options.requireAll) out.push({ field: field.name, rule: field.rule, value: undefined, missing: true });
      continue;
    }
    if (!fieldAccepts(field, config[field.name])) out.push({ field: field.name, rule: field.rule, value: config[field.name] });
  }
  return out;
}

/** The rules between fields (transformers' HubertConfig.__init__ and what the modules need to be built). */
export function crossFieldViolations(c: HubertConfigFields): ConfigViolation[] {
  const out: ConfigViolation[] = [];
  if (c.hidden_size % c.num_attention_heads !== 0) {
    out.push({ field: 'hidden_size, num_attention_heads', rule: 'hidden_size divisible by num_attention_heads', value: [c.hidden_size, c.num_attention_heads] });
  }
  if (c.hidden_size % c.num_conv_pos_embedding_groups !== 0) {
    out.push({ field: 'hidden_size, num_conv_pos_embedding_groups', rule: 'hidden_size divisible by num_conv_pos_embedding_groups', value: [c.hidden_size, c.num_conv_pos_embedding_groups] });
  }
  const lengths = [c.conv_dim.length, c.conv_stride.length, c.conv_kernel.length, c.num_feat_extract_layers];
  if (!lengths.every((l) => l === lengths[0])) {
    out.push({ field: 'conv_dim, conv_stride, conv_kernel, num_feat_extract_layers', rule: 'one entry per conv layer in each list, and num_feat_extract_layers their length', value: lengths });
  }
  return out;
}

/** config.json over transformers' defaults: what from_pretrained sees. `num_feat_extract_layers` follows conv_dim. */
export function withHubertDefaults(raw: Readonly<Record<string, unknown>>): HubertConfigFields & Record<string, unknown> {
  const convDim = Array.isArray(raw['conv_dim']) ? (raw['conv_dim'] as unknown[]) : HUBERT_CONFIG_DEFAULTS.conv_dim;
  return { ...HUBERT_CONFIG_DEFAULTS, num_feat_extract_layers: convDim.length, ...raw } as HubertConfigFields & Record<string, unknown>;
}

export function describeViolation(v: ConfigViolation): string {
  if (v.missing) return `${v.field} is missing`;
  return `${v.field} = ${JSON.stringify(v.value)} breaks the rule "${v.rule}"`;
}
