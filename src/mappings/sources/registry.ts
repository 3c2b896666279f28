/**
 * The source registry, in the manner of netron's readers: each source kind says whether a checkpoint is its kind
 * (and how sure: a declared model name beats structure) and how to map it. Families hubert-convert does not convert
 * are entries too, so they are refused by name instead of being half-taken for HuBERT.
 *
 * Adding a source: write its `convert` (a function over the checkpoint root, next to its siblings in this folder) and
 * its rename table (../tables), then add one entry below. Adding a family: one spec (src/architectures), one table,
 * one entry; see docs/ARCHITECTURE.md.
 */
import { UsageError } from '../../errors.js';
import type { Checkpoint } from '../../readers/index.js';
import { type SourceHints, declaredAs } from '../source-hints.js';
import type { Conversion, ConversionOptions, SourceKind } from '../types.js';
import { convertFairseqCtc, convertFairseqPretrained } from './fairseq.js';
import { convertDistilHubert, convertS3prlHubert, convertSuperbDownstream } from './s3prl.js';
import { convertContentvec, convertContentvecLegacy } from './contentvec.js';
import { BSHALL, convertBshall } from './bshall.js';
import { BSHALL_DDP_PREFIX } from '../tables/bshall.js';

/** How sure a recognition is. Equal scores go to the refused families (a refusal is safer than a wrong conversion). */
export const CONFIDENCE = {
  /** The file's structure (top-level keys, state-dict keys) fits. */
  structure: 1,
  /** The file names its model (`_name`, `arch`), or has keys only that family has (a quantizer is never HuBERT's). */
  declared: 2,
  /** A declared variant of a declared family (`layer_type: conformer`): outranks the family's own name. */
  variant: 3,
} as const;

export interface Recognition {
  score: number;
  /** Why, for `inspect` and messages. */
  evidence: string;
}

/** What a source entry's convert may call back: the mapping of another checkpoint (a SUPERB head's upstream). */
export interface SourceContext {
  convertCheckpoint(checkpoint: Checkpoint, options: ConversionOptions): Conversion;
  detectKind(checkpoint: Checkpoint): SourceKind;
}

export interface SourceEntry {
  kind: Exclude<SourceKind, 'hf-folder'>;
  /** For the list of supported sources in messages. */
  describe: string;
  recognise(hints: SourceHints): Recognition | null;
  convert(root: Map<unknown, unknown>, file: string, options: ConversionOptions, context: SourceContext): Conversion;
}

export interface RefusedFamily {
  /** The family's name as users know it, for the refusal. */
  family: string;
  recognise(hints: SourceHints): Recognition | null;
  /** What a user can do instead. */
  hint: string;
}

const hit = (score: number, evidence: string | undefined): Recognition | null => (evidence ? { score, evidence } : null);
const outer = (d: { where: string }) => !d.where.includes('w2v_args');
const hasConfig = (h: SourceHints) => h.top.has('model') && (h.at('cfg') instanceof Map || h.at('args') instanceof Map);

export const SOURCES: readonly SourceEntry[] = [
  {
    kind: 'distilhubert',
    describe: 'DistilHuBERT',
    recognise: (h) => (h.top.has('Distiller') && h.top.has('Config') ? { score: CONFIDENCE.structure, evidence: 'has "Distiller" and "Config" (s3prl distiller checkpoint)' } : null),
    convert: (root, file) => convertDistilHubert(root, file),
  },
  {
    kind: 'superb-downstream',
    describe: 'SUPERB downstream',
    recognise: (h) =>
      h.top.has('Downstream') && h.top.has('Featurizer') ? { score: CONFIDENCE.structure, evidence: 'has "Downstream" and "Featurizer" (s3prl downstream checkpoint)' } : null,
    convert: (root, file, options, context) => {
      if (!options.upstream) {
        throw new UsageError(
          'E_NEEDS_UPSTREAM',
          root.has('Upstream')
            ? `${file} is a SUPERB downstream head with its fine-tuned Upstream, which has no architecture config. Pass the pretrained upstream it started from: --upstream <fairseq or s3prl HuBERT checkpoint> (its architecture is used with the fine-tuned weights)`
            : `${file} is a SUPERB downstream head; it holds no upstream weights. Pass the upstream checkpoint it was trained on: --upstream <fairseq or s3prl HuBERT checkpoint>`,
        );
      }
      const upstreamKind = context.detectKind(options.upstream);
      if (upstreamKind !== 'fairseq-hubert' && upstreamKind !== 's3prl-hubert') {
        throw new UsageError('E_BAD_UPSTREAM', `--upstream ${options.upstream.file} is a ${upstreamKind} checkpoint; a SUPERB head needs a fairseq or s3prl HuBERT upstream`);
      }
      return convertSuperbDownstream(root, file, options, context.convertCheckpoint(options.upstream, { kind: upstreamKind }));
    },
  },
  {
    kind: 's3prl-hubert',
    describe: 's3prl converted HuBERT',
    recognise: (h) => {
      if (!(h.top.has('model_weight') && h.top.has('model_cfg') && h.top.has('task_cfg'))) return null;
      const declared = declaredAs(h, ['hubert'], (d) => d.where === 'model_cfg._name');
      return declared
        ? { score: CONFIDENCE.declared, evidence: `${declared}, with "task_cfg", "model_cfg" and "model_weight" (s3prl converted checkpoint)` }
        : { score: CONFIDENCE.structure, evidence: 'has "task_cfg", "model_cfg" and "model_weight" (s3prl converted checkpoint)' };
    },
    convert: (root, file) => convertS3prlHubert(root, file),
  },
  {
    kind: 'fairseq-hubert-ctc',
    describe: 'fairseq HuBERT CTC fine-tune',
    recognise: (h) =>
      hit(CONFIDENCE.declared, declaredAs(h, ['hubert_ctc'], outer)) ??
      (hasConfig(h) && h.stateKeys.some((k) => k.startsWith('w2v_encoder.w2v_model.'))
        ? { score: CONFIDENCE.structure, evidence: 'has "model" with w2v_encoder.w2v_model.* keys (fairseq fine-tuned encoder)' }
        : null),
    convert: (root, file, options, context) => convertFairseqCtc(root, file, options, context),
  },
  {
    kind: 'contentvec',
    describe: 'ContentVec (checkpoint_best_500.pt)',
    recognise: (h) =>
      hit(CONFIDENCE.declared, declaredAs(h, ['contentvec'])) ??
      hit(CONFIDENCE.declared, someKey(h, (k) => k.startsWith('encoder.cond_layer_norm.') || k.includes('.weight_ln.'), 'speaker-conditioned LayerNorms')),
    convert: (root, file) => convertContentvec(root, file),
  },
  {
    kind: 'contentvec-legacy',
    describe: 'ContentVec legacy (checkpoint_best_legacy_500.pt, hubert_base.pt)',
    recognise: (h) => {
      // the legacy conversion renames the model to "hubert" but keeps ContentvecConfig's own fields
      const declared = declaredAs(h, ['hubert'], (d) => d.where === 'cfg.model._name');
      const field = CONTENTVEC_ONLY_FIELDS.find((f) => h.at('cfg', 'model', f) !== undefined);
      if (!declared || !field || someKey(h, (k) => k.startsWith('encoder.cond_layer_norm.') || k.includes('.weight_ln.'), '')) return null;
      return { score: CONFIDENCE.variant, evidence: `${declared}, and cfg.model has ContentVec's ${field} (a ContentVec model converted to the legacy HuBERT format)` };
    },
    convert: (root, file) => convertContentvecLegacy(root, file),
  },
  {
    kind: 'hubert-discrete',
    describe: 'bshall hubert-discrete',
    recognise: (h) => {
      const evidence = bshallEvidence(h);
      const rows = labelRows(h);
      return evidence && rows === BSHALL.discreteLabels ? { score: CONFIDENCE.variant, evidence: `${evidence}, and label_embedding has ${rows} rows (HubertDiscrete)` } : null;
    },
    convert: (root, file, options) => convertBshall(root, file, 'discrete', options),
  },
  {
    kind: 'hubert-soft',
    describe: 'bshall hubert-soft',
    recognise: (h) => hit(CONFIDENCE.declared, bshallEvidence(h)),
    convert: (root, file, options) => convertBshall(root, file, 'soft', options),
  },
  {
    kind: 'fairseq-hubert',
    describe: 'fairseq HuBERT (pretrained)',
    recognise: (h) =>
      hit(CONFIDENCE.declared, declaredAs(h, ['hubert'], outer)) ??
      (hasConfig(h) && h.stateKeys.includes('feature_extractor.conv_layers.0.0.weight')
        ? { score: CONFIDENCE.structure, evidence: 'has "model" with fairseq HubertModel keys and a config' }
        : null),
    convert: (root, file) => convertFairseqPretrained(root, file),
  },
];

/** ContentvecConfig fields (auspicious3000/contentvec `contentvec/models/hubert/contentvec.py`) that fairseq's HubertConfig lacks. */
const CONTENTVEC_ONLY_FIELDS = ['encoder_layers_1', 'ctr_layers', 'logit_temp_ctr'];

/** bshall/hubert's own key names (torch TransformerEncoderLayer inside a HuBERT), after any `module.` prefix. */
function bshallEvidence(h: SourceHints): string | undefined {
  const prefix = h.stateKeys.length > 0 && h.stateKeys.every((k) => k.startsWith(BSHALL_DDP_PREFIX)) ? BSHALL_DDP_PREFIX : '';
  const needed = ['feature_extractor.conv0.weight', 'encoder.layers.0.self_attn.in_proj_weight'].map((k) => prefix + k);
  if (!needed.every((k) => h.stateKeys.includes(k))) return undefined;
  return `its state dict has bshall/hubert keys (${needed.join(', ')}: torch TransformerEncoderLayers in a HuBERT)`;
}

function labelRows(h: SourceHints): number | undefined {
  const t = h.stateAt(`${BSHALL_DDP_PREFIX}label_embedding.weight`) ?? h.stateAt('label_embedding.weight');
  return typeof t === 'object' && t !== null && 'shape' in t ? (t as { shape: readonly number[] }).shape[0] : undefined;
}

/** Evidence from a state-dict key only that family has: as strong as a declared name. */
const someKey = (h: SourceHints, test: (k: string) => boolean, what: string): string | undefined => {
  const k = h.stateKeys.find(test);
  return k && `its state dict has ${what} (${k})`;
};

/** Families of the same lineage that hubert-convert recognises but does not convert (yet). */
export const REFUSED_FAMILIES: readonly RefusedFamily[] = [
  {
    family: 'conformer',
    recognise: (h) => {
      const d = h.layerTypes.find((x) => x.name === 'conformer');
      return d ? { score: CONFIDENCE.variant, evidence: `${d.where} is "${d.name}"` } : null;
    },
    hint: "only transformer encoders exist in transformers' HuBERT",
  },
  {
    family: 'wav2vec 2.0',
    recognise: (h) =>
      hit(CONFIDENCE.declared, declaredAs(h, ['wav2vec2', 'wav2vec_ctc', 'wav2vec_seq2seq', 'wav2vec2_ctc'])) ??
      hit(CONFIDENCE.declared, someKey(h, (k) => k.startsWith('quantizer.') || k === 'project_q.weight' || k.includes('w2v_model.quantizer.'), 'a quantizer')),
    hint: "transformers' wav2vec2 conversion script converts it",
  },
  {
    family: 'WavLM',
    recognise: (h) => {
      const cfg = h.at('cfg');
      if (cfg instanceof Map && cfg.has('relative_position_embedding')) return { score: CONFIDENCE.declared, evidence: 'its flat "cfg" has relative_position_embedding (a WavLMConfig)' };
      return hit(CONFIDENCE.declared, someKey(h, (k) => k.includes('grep_linear') || k.includes('relative_attention_bias'), 'gated relative position bias weights'));
    },
    hint: "transformers' WavLM conversion script converts it",
  },
  {
    family: 'data2vec-audio',
    recognise: (h) =>
      hit(CONFIDENCE.declared, declaredAs(h, ['data2vec_audio'])) ??
      hit(CONFIDENCE.declared, someKey(h, (k) => /^(w2v_encoder\.w2v_model\.)?encoder\.pos_conv\.[1-9]\d*\.0\./.test(k), 'a stacked positional convolution')),
    hint: "transformers' data2vec-audio conversion script converts it",
  },
];

export function sourceEntry(kind: SourceKind): SourceEntry | undefined {
  return SOURCES.find((s) => s.kind === kind);
}
