/**
 * HuBERT's tensor schema: every tensor of a model of a given config, with its shape and element type (formats.md
 * §1.2). Written as a list of parts, each saying when it is present and what it holds, so an optional part (conv
 * bias, feature-projection LayerNorm, masked_spec_embed, batch-norm positional conv, the weighted layer sum, a
 * projection head added by a later source) is one entry here, not a branch in each stage.
 */
import type { DType } from '../../dtype.js';
import { isFloatDType } from '../../dtype.js';
import type { HfArchitecture, HubertConfigFields } from '../../model.js';
import { type SchemaMatch, type TensorEntry, type TensorKind, type TensorMismatch, sameShape } from '../spec.js';
import { ATTENTION_PROJECTIONS, HUBERT_NAMES as N, basePrefixFor, legacyWeightNormName } from './names.js';

type Config = HubertConfigFields;
type Row = [name: string, shape: number[], kind?: TensorKind];

/** A part of the model: present or not for a config, and its tensors. */
export interface SchemaPart {
  readonly part: string;
  /** Base model (prefixed in head models) or head. */
  readonly base: boolean;
  /** Architectures that have the part; all when absent. */
  readonly architectures?: readonly HfArchitecture[];
  present(c: Config): boolean;
  /** The tensors; layer parts are expanded per layer by `layers`. */
  tensors(c: Config, layer: number): Row[];
  /** A per-layer part (one copy per encoder layer). */
  readonly perLayer?: boolean;
}

const wb = (name: string, rows: number, cols?: number): Row[] => [
  [`${name}.weight`, cols === undefined ? [rows] : [rows, cols]],
  [`${name}.bias`, [rows]],
];

/** Labels of a classification head (PretrainedConfig's default id2label has two entries). */
export function numLabelsOf(c: Config): number {
  if (c.id2label && typeof c.id2label === 'object') return Object.keys(c.id2label).length;
  return typeof c.num_labels === 'number' && Number.isFinite(c.num_labels) ? c.num_labels : 2;
}

/** HF keeps masked_spec_embed only when SpecAugment can mask (transformers' HubertModel.__init__). */
export function hasMaskedSpecEmbed(c: Config): boolean {
  return c.mask_time_prob > 0 || c.mask_feature_prob > 0;
}

const last = (c: Config) => c.conv_dim[c.conv_dim.length - 1]!;

export const HUBERT_PARTS: readonly SchemaPart[] = [
  {
    part: 'feature_encoder',
    base: true,
    present: () => true,
    tensors: (c) =>
      c.conv_dim.flatMap((dim, i): Row[] => [
        [`${N.conv(i)}.weight`, [dim, i === 0 ? 1 : c.conv_dim[i - 1]!, c.conv_kernel[i]!]],
        ...(c.conv_bias ? ([[`${N.conv(i)}.bias`, [dim]]] as Row[]) : []),
        // group norm: one GroupNorm(C, C) after the first conv; layer norm: a LayerNorm after every conv
        ...(c.feat_extract_norm === 'layer' || i === 0 ? wb(N.convNorm(i), dim) : []),
      ]),
  },
  { part: 'feature_projection_norm', base: true, present: (c) => c.feat_proj_layer_norm, tensors: (c) => wb(N.featProjNorm, last(c)) },
  { part: 'feature_projection', base: true, present: () => true, tensors: (c) => wb(N.featProj, c.hidden_size, last(c)) },
  { part: 'masked_spec_embed', base: true, present: hasMaskedSpecEmbed, tensors: (c) => [[N.maskedSpecEmbed, [c.hidden_size]]] },
  {
    part: 'pos_conv_weight_norm',
    base: true,
    present: (c) => !c.conv_pos_batch_norm,
    tensors: (c) => [
      [`${N.posConv}.weight_g`, [1, 1, c.num_conv_pos_embeddings]],
      [`${N.posConv}.weight_v`, [c.hidden_size, c.hidden_size / c.num_conv_pos_embedding_groups, c.num_conv_pos_embeddings]],
      [`${N.posConv}.bias`, [c.hidden_size]],
    ],
  },
  {
    part: 'pos_conv_batch_norm',
    base: true,
    present: (c) => c.conv_pos_batch_norm,
    tensors: (c) => [
      ...['weight', 'bias', 'running_mean', 'running_var'].map((p): Row => [`${N.posConvBatchNorm}.${p}`, [c.hidden_size]]),
      [`${N.posConvBatchNorm}.num_batches_tracked`, [], 'int64'],
      [`${N.posConv}.weight`, [c.hidden_size, c.hidden_size / c.num_conv_pos_embedding_groups, c.num_conv_pos_embeddings]],
      [`${N.posConv}.bias`, [c.hidden_size]],
    ],
  },
  { part: 'encoder_norm', base: true, present: () => true, tensors: (c) => wb(N.encoderNorm, c.hidden_size) },
  {
    part: 'encoder_layer',
    base: true,
    perLayer: true,
    present: () => true,
    tensors: (c, n) => [
      ...ATTENTION_PROJECTIONS.flatMap((p) => wb(`${N.attention(n)}.${p}`, c.hidden_size, c.hidden_size)),
      ...wb(N.attentionNorm(n), c.hidden_size),
      ...wb(`${N.feedForward(n)}.intermediate_dense`, c.intermediate_size, c.hidden_size),
      ...wb(`${N.feedForward(n)}.output_dense`, c.hidden_size, c.intermediate_size),
      ...wb(N.finalNorm(n), c.hidden_size),
    ],
  },
  { part: 'ctc_head', base: false, architectures: ['HubertForCTC'], present: () => true, tensors: (c) => wb(N.lmHead, c.vocab_size, c.hidden_size) },
  {
    part: 'classification_head',
    base: false,
    architectures: ['HubertForSequenceClassification'],
    present: () => true,
    tensors: (c) => [...wb(N.projector, c.classifier_proj_size, c.hidden_size), ...wb(N.classifier, numLabelsOf(c), c.classifier_proj_size)],
  },
  {
    part: 'weighted_layer_sum',
    base: false,
    architectures: ['HubertForSequenceClassification'],
    present: (c) => c.use_weighted_layer_sum,
    tensors: (c) => [[N.layerWeights, [c.num_hidden_layers + 1]]],
  },
];

export interface SchemaOptions {
  /**
   * Only what a graph ending at encoder layer `throughLayer` (1-based, as fairseq's output_layer) reads: later layers,
   * the final encoder LayerNorm of a pre-LN model and the heads are left out. The folder's schema is always whole.
   */
  throughLayer?: number;
  /** Parts to use instead of HuBERT's own (a source family that adds, say, a projection head, appends its part). */
  parts?: readonly SchemaPart[];
}

/** The tensors of a HuBERT model of config `c`, with the architecture's naming. */
export class TensorSchema {
  readonly entries: readonly TensorEntry[];
  /** Prefix of base tensors in this architecture's state dict. */
  readonly basePrefix: string;
  private readonly byName = new Map<string, TensorEntry>();

  constructor(readonly config: Config, readonly architecture: HfArchitecture, options: SchemaOptions = {}) {
    this.basePrefix = basePrefixFor(architecture);
    const cut = options.throughLayer;
    const entries: TensorEntry[] = [];
    for (const part of options.parts ?? HUBERT_PARTS) {
      if (part.architectures && !part.architectures.includes(architecture)) continue;
      if (cut !== undefined && (!part.base || (part.part === 'encoder_norm' && config.do_stable_layer_norm))) continue;
      if (!part.present(config)) continue;
      const layers = part.perLayer ? Array.from({ length: cut === undefined ? config.num_hidden_layers : Math.min(cut, config.num_hidden_layers) }, (_, n) => n) : [-1];
      for (const layer of layers) {
        for (const [name, shape, kind] of part.tensors(config, layer)) {
          const entry: TensorEntry = { name, shape, kind: kind ?? 'float', part: part.part, base: part.base, ...(layer >= 0 ? { layer } : {}) };
          entries.push(entry);
          this.byName.set(name, entry);
        }
      }
    }
    this.entries = entries;
  }

  /** The entry for a canonical name, or undefined. */
  get(name: string): TensorEntry | undefined {
    return this.byName.get(name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The shape of a canonical name; asking for a tensor the config does not have is a bug in the asker. */
  shape(name: string): readonly number[] {
    const entry = this.byName.get(name);
    if (!entry) throw new Error(`the HuBERT schema of this config has no tensor ${name}`);
    return entry.shape;
  }

  /** The stored (full) name of an entry in this architecture. */
  fullName(entry: TensorEntry, basePrefix = this.basePrefix): string {
    return entry.base ? basePrefix + entry.name : entry.name;
  }

  /**
   * Compares stored tensors with the schema. Stored names may use the weight-norm parametrization aliases; base
   * tensors must carry `basePrefix` (default: the architecture's).
   */
  match(tensors: Iterable<[string, { shape: readonly number[]; dtype: DType }]>, basePrefix = this.basePrefix): SchemaMatch {
    const expected = new Map(this.entries.map((e) => [this.fullName(e, basePrefix), e]));
    const seen = new Set<string>();
    const result: SchemaMatch = { missing: [], unexpected: [], wrongShape: [], wrongDtype: [] };
    for (const [name, t] of tensors) {
      const key = legacyWeightNormName(name);
      const entry = expected.get(key);
      const record: TensorMismatch = { name, shape: t.shape, dtype: t.dtype };
      if (!entry) {
        result.unexpected.push(record);
        continue;
      }
      seen.add(key);
      if (!sameShape(t.shape, entry.shape)) result.wrongShape.push({ ...record, expected: entry });
      else if (!(entry.kind === 'float' ? isFloatDType(t.dtype) : t.dtype === 'I64')) result.wrongDtype.push({ ...record, expected: entry });
    }
    for (const [full, entry] of expected) if (!seen.has(full)) result.missing.push(entry);
    return result;
  }
}

/** The dtype a schema entry needs, in words. */
export function kindInWords(kind: TensorKind): string {
  return kind === 'float' ? 'a float dtype (F32, F16, BF16 or F64)' : 'I64';
}
