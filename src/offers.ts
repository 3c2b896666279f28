/**
 * What a checkpoint offers the HuBERT-family outputs (`inspect`): its layers and heads, the projection head it carries,
 * the facts of its original inference API (input padding, the unit layer), whether the file is a k-means quantizer
 * rather than a model, and which `--profile` fits it.
 */
import type { SourceKind } from './mappings/types.js';
import type { HfModel } from './model.js';
import type { ByteSource } from './byte-source.js';

export interface ProfileFit {
  profile: 'rvc' | 'so-vits';
  /** so-vits-svc's speech_encoder name the graph stands in for; absent for RVC. */
  variant?: 'vec256l9' | 'vec768l12' | 'hubert-soft';
  /** What that project's ONNX code takes from the model. */
  uses: string;
}

export interface Quantizer {
  /** `sklearn-joblib`: fairseq learn_kmeans.py's joblib.dump of an sklearn estimator; `bshall-torch`: bshall's torch-saved dict. */
  format: 'sklearn-joblib' | 'bshall-torch';
  estimator: string;
  /** [clusters, feature dim] when known from the file's structure alone. */
  clusters?: number;
  dim?: number;
}

export interface Offers {
  layers: number;
  /** null when the file does not record them (a bshall model not 768 wide, inspected without --heads). */
  heads: number | null;
  hiddenSize: number;
  projection: { name: string; inFeatures: number; outFeatures: number } | null;
  inputPadding: number | null;
  unitLayer: number | null;
  profiles: ProfileFit[];
}

const CONTENTVEC_KINDS: ReadonlySet<SourceKind> = new Set(['contentvec', 'contentvec-legacy']);

/** The `--profile`s whose contract a model of this kind fits (FAMILY.md §4: what RVC and so-vits-svc call). */
export function profilesFor(kind: SourceKind, model: Pick<HfModel, 'projection'>): ProfileFit[] {
  if (CONTENTVEC_KINDS.has(kind)) {
    const proj = model.projection?.name === 'final_proj';
    return [
      { profile: 'rvc', uses: proj ? 'v1: layer 9 + final_proj; v2: layer 12' : 'v2: layer 12 (no final_proj for v1)' },
      ...(proj ? [{ profile: 'so-vits', variant: 'vec256l9', uses: 'layer 9 + final_proj' } as const] : []),
      { profile: 'so-vits', variant: 'vec768l12', uses: 'layer 12' },
    ];
  }
  if (kind === 'hubert-soft' && model.projection?.name === 'proj') return [{ profile: 'so-vits', variant: 'hubert-soft', uses: 'units(): 40 samples of padding each side, every layer, then proj' }];
  return [];
}

export function offersOf(kind: SourceKind, model: HfModel, headsKnown: boolean): Offers {
  const p = model.projection;
  return {
    layers: model.config.num_hidden_layers,
    heads: headsKnown ? model.config.num_attention_heads : null,
    hiddenSize: model.config.hidden_size,
    projection: p ? { name: p.name, inFeatures: p.weight.shape[1]!, outFeatures: p.weight.shape[0]! } : null,
    inputPadding: model.inputPadding ?? null,
    unitLayer: model.unitLayer ?? null,
    profiles: profilesFor(kind, model),
  };
}

/** bshall's k-means release (`kmeans100-50f36a95.pt`): a torch-saved dict of exactly these keys, centres a 2-D tensor. */
export function bshallQuantizer(root: unknown): Quantizer | null {
  if (!(root instanceof Map)) return null;
  const keys = [...root.keys()];
  const centres = root.get('cluster_centers_') as { shape?: readonly number[] } | undefined;
  if (keys.length !== 3 || !root.has('n_features_in_') || !root.has('_n_threads') || centres?.shape?.length !== 2) return null;
  return { format: 'bshall-torch', estimator: 'KMeans (cluster_centers_)', clusters: centres.shape[0]!, dim: centres.shape[1]! };
}

const SKLEARN_KMEANS = /sklearn\.cluster\._kmeans[\s\S]{1,8}?(MiniBatchKMeans|KMeans)/;

/**
 * fairseq's learn_kmeans.py output (`joblib.dump` of an sklearn MiniBatchKMeans/KMeans, e.g. mHuBERT's
 * `…_L11_km1000.bin`), recognised by the first bytes alone: a pickle whose first global is sklearn's k-means class
 * (named, as protocol 4 names it, by two short strings before STACK_GLOBAL). Nothing is unpickled here.
 */
export function joblibQuantizer(source: ByteSource): Quantizer | null {
  if (source.size < 4) return null;
  const head = source.read(0, Math.min(source.size, 256));
  if (head[0] !== 0x80) return null;
  const text = Array.from(head, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ' ')).join('');
  const m = SKLEARN_KMEANS.exec(text);
  return m && text.indexOf('sklearn') < 40 ? { format: 'sklearn-joblib', estimator: m[1]! } : null;
}
