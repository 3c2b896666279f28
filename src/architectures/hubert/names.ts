/**
 * HuBERT's tensor vocabulary: the HF state-dict names of every part, the base-model prefix that head models put on
 * the encoder's tensors, and the weight-norm aliases. Mapping tables target these names, the schema is written in
 * them, and the ONNX builder and the float64 reference look tensors up by them.
 */
import type { HfArchitecture } from '../../model.js';

/** transformers' `base_model_prefix`: head models (CTC, sequence classification) keep the encoder under it. */
export const HUBERT_BASE_PREFIX = 'hubert.';

/** The HF name of each part (canonical: no base prefix, legacy weight-norm names). */
export const HUBERT_NAMES = {
  conv: (i: number) => `feature_extractor.conv_layers.${i}.conv`,
  convNorm: (i: number) => `feature_extractor.conv_layers.${i}.layer_norm`,
  featProjNorm: 'feature_projection.layer_norm',
  featProj: 'feature_projection.projection',
  maskedSpecEmbed: 'masked_spec_embed',
  posConvEmbed: 'encoder.pos_conv_embed',
  posConv: 'encoder.pos_conv_embed.conv',
  posConvBatchNorm: 'encoder.pos_conv_embed.batch_norm',
  encoderNorm: 'encoder.layer_norm',
  layer: (n: number) => `encoder.layers.${n}`,
  attention: (n: number) => `encoder.layers.${n}.attention`,
  attentionNorm: (n: number) => `encoder.layers.${n}.layer_norm`,
  feedForward: (n: number) => `encoder.layers.${n}.feed_forward`,
  finalNorm: (n: number) => `encoder.layers.${n}.final_layer_norm`,
  lmHead: 'lm_head',
  projector: 'projector',
  classifier: 'classifier',
  layerWeights: 'layer_weights',
} as const;

/** The attention projections, in the order the graph concatenates q, k and v. */
export const ATTENTION_PROJECTIONS = ['q_proj', 'k_proj', 'v_proj', 'out_proj'] as const;

/**
 * torch's weight-norm parametrization names (what newer transformers keeps in memory and some folders store) for the
 * legacy `weight_g` / `weight_v`, which we write and which every transformers version loads.
 */
export const WEIGHT_NORM_ALIASES: ReadonlyArray<readonly [alias: string, legacy: string]> = [
  ['parametrizations.weight.original0', 'weight_g'],
  ['parametrizations.weight.original1', 'weight_v'],
];

/** A stored name with the parametrization aliases turned into the legacy weight-norm names. */
export function legacyWeightNormName(name: string): string {
  for (const [alias, legacy] of WEIGHT_NORM_ALIASES) if (name.endsWith(`.${alias}`)) return name.slice(0, -alias.length) + legacy;
  return name;
}

/** The alias a legacy weight-norm name may be stored under, or null. */
export function weightNormAliasOf(name: string): string | null {
  for (const [alias, legacy] of WEIGHT_NORM_ALIASES) if (name.endsWith(`.${legacy}`)) return name.slice(0, -legacy.length) + alias;
  return null;
}

/** The prefix an architecture's base-model tensors carry. */
export function basePrefixFor(architecture: HfArchitecture): string {
  return architecture === 'HubertModel' ? '' : HUBERT_BASE_PREFIX;
}

/**
 * The prefix the base tensors of these weights actually carry: the architecture's, except that a HubertModel saved
 * from a head model keeps `hubert.` (transformers loads it either way), so follow the tensors there.
 */
export function basePrefixOf(model: { architecture: HfArchitecture; tensors: ReadonlyMap<string, unknown> }): string {
  if (model.architecture !== 'HubertModel') return HUBERT_BASE_PREFIX;
  return model.tensors.has(`${HUBERT_BASE_PREFIX}${HUBERT_NAMES.featProj}.weight`) ? HUBERT_BASE_PREFIX : '';
}

/** A stored name as the schema names it: no base prefix, legacy weight-norm names (for matching across naming styles). */
export function canonicalName(stored: string): string {
  return legacyWeightNormName(stored.startsWith(HUBERT_BASE_PREFIX) ? stored.slice(HUBERT_BASE_PREFIX.length) : stored);
}
