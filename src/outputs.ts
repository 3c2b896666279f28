/**
 * What an exported graph outputs beyond transformers' HubertModel (issue 12): a layer cut (`--output-layer N`), the
 * model's projection head (`--final-proj`), k-means units (`--kmeans`, `--dedup-units`), the 40-sample padding of
 * bshall's units() inside the graph, and the voice-conversion profiles that set those (`--profile`).
 *
 * One resolved `OutputSpec` drives the ONNX builder, the files written beside the model and verify (which reads the
 * spec back from each graph's metadata, `hubert_convert.outputs`, and computes the same outputs in float64).
 */
import { CorruptInputError, UsageError } from './errors.js';
import type { HfModel, ProjectionHead } from './model.js';
import { PROFILES, PROFILE_CHOICES, type Profile, type ProfileName } from './profiles.js';
import type { KMeansQuantizer } from './readers/kmeans.js';

export interface OutputOptions {
  /** fairseq's extract_features(output_layer=N): 1-based; the graph ends there. */
  outputLayer?: number;
  /** Apply the model's projection head to the features. */
  finalProj?: boolean;
  /** A k-means quantizer (readKMeans) of the layer's features: adds int64 `units`. */
  kmeans?: KMeansQuantizer;
  /** Also output the run-length encoded units (`dedup_units`, `unit_durations`). */
  dedupUnits?: boolean;
  /** One of PROFILE_CHOICES. */
  profile?: string;
}

export interface OutputSpec {
  /** The layer the graph ends at, or null for the whole encoder (last_hidden_state). */
  layer: number | null;
  projection: ProjectionHead | null;
  kmeans: KMeansQuantizer | null;
  dedupUnits: boolean;
  /** Zero samples padded on each side inside the graph. */
  inputPadding: number;
  /** The input is [batch, 1, samples] (the voice-conversion projects' layout) instead of [batch, samples]. */
  channelAxis: boolean;
  profile: Profile | null;
}

/** The folder files the spec's extra weights live in. */
export const KMEANS_FILE = 'kmeans.safetensors';
export const KMEANS_TENSOR = 'cluster_centers';
export const projectionFile = (head: { name: string }): string => `${head.name}.safetensors`;

/** ONNX metadata key holding the spec (JSON, see `describeOutputs`). */
export const OUTPUTS_METADATA_KEY = 'hubert_convert.outputs';

export const featureOutputName = (layer: number | null): string => (layer === null ? 'last_hidden_state' : `layer_${layer}`);
/** hubert-soft's head makes its soft speech units; fairseq/ContentVec's is final_proj. */
export const projectionOutputName = (name: string): string => (name === 'proj' ? 'soft_units' : 'final_proj');

/** Graph outputs in order: what the caller wants first (units, else the projection, else the features). */
export function outputNamesOf(spec: Pick<OutputSpec, 'layer' | 'dedupUnits'> & { projection: { name: string } | null; kmeans: unknown }): string[] {
  const names: string[] = [];
  if (spec.kmeans) names.push('units', ...(spec.dedupUnits ? ['dedup_units', 'unit_durations'] : []));
  if (spec.projection) names.push(projectionOutputName(spec.projection.name));
  names.push(featureOutputName(spec.layer));
  return names;
}

function resolveProfile(name: string, model: HfModel): Profile {
  if (name in PROFILES) return PROFILES[name as ProfileName];
  if (name === 'so-vits' && model.projection?.name === 'proj') return PROFILES['so-vits-hubertsoft'];
  if (name === 'rvc' || name === 'so-vits') {
    const subs = Object.values(PROFILES).filter((p) => p.name.startsWith(`${name}-`));
    throw new UsageError('E_PROFILE_AMBIGUOUS', `--profile ${name} has several contracts; name one: ${subs.map((p) => `${p.name} (${p.dropInAs})`).join(', ')}`);
  }
  throw new UsageError('E_PROFILE_UNKNOWN', `--profile ${JSON.stringify(name)} is not a profile; use one of ${PROFILE_CHOICES.join(', ')}`);
}

function checkProjection(head: ProjectionHead, hidden: number): void {
  const [out, inF] = head.weight.shape;
  if (head.weight.shape.length !== 2 || inF !== hidden || head.bias.shape.length !== 1 || head.bias.shape[0] !== out) {
    throw new CorruptInputError(
      'E_PROJECTION_SHAPE',
      `the ${head.name} head has weight [${head.weight.shape.join(', ')}] and bias [${head.bias.shape.join(', ')}]; a Linear(${hidden} → out) head needs [out, ${hidden}] and [out]`,
    );
  }
}

/**
 * The outputs a conversion asked for, checked against the model; null when it asked for none (a plain
 * transformers-style graph). `warnings` hears what is allowed but unusual.
 */
export function resolveOutputs(model: HfModel, options: OutputOptions, warnings: string[] = []): OutputSpec | null {
  const { outputLayer, finalProj, kmeans, dedupUnits, profile: profileName } = options;
  if (outputLayer === undefined && !finalProj && !kmeans && !dedupUnits && profileName === undefined) return null;
  const layers = model.config.num_hidden_layers;
  const profile = profileName === undefined ? null : resolveProfile(profileName, model);
  if (outputLayer !== undefined && (!Number.isSafeInteger(outputLayer) || outputLayer < 1 || outputLayer > layers)) {
    throw new UsageError('E_OUTPUT_LAYER', `--output-layer ${outputLayer} is not a layer of this model; it has ${layers} transformer layers (1..${layers}, 1-based as fairseq's output_layer)`);
  }
  if (profile && kmeans) throw new UsageError('E_PROFILE_CONFLICT', `--profile ${profile.name} outputs features for ${profile.project}; --kmeans does not go with it (drop one)`);
  if (dedupUnits && !kmeans) throw new UsageError('E_DEDUP_NEEDS_KMEANS', '--dedup-units deduplicates k-means units; give the quantizer with --kmeans FILE');
  if (kmeans && outputLayer === undefined) throw new UsageError('E_KMEANS_NEEDS_LAYER', `--kmeans quantizes one layer's features; say which with --output-layer N (mHuBERT: 11, HuBERT base units: 6 or 9)`);

  let layer: number | null = outputLayer ?? null;
  if (profile && outputLayer === undefined && profile.layer !== undefined) {
    if (profile.layer > layers) {
      throw new UsageError('E_PROFILE_LAYER', `--profile ${profile.name} takes layer ${profile.layer} of a 12-layer ContentVec, but this model has ${layers} layers; pass --output-layer N to choose the layer`);
    }
    layer = profile.layer;
  }
  if (profile && outputLayer !== undefined && profile.layer !== undefined && outputLayer !== profile.layer) {
    warnings.push(`--profile ${profile.name}: ${profile.project} expects layer ${profile.layer}; this graph ends at layer ${outputLayer} as --output-layer asks`);
  }
  if (profile && profile.layer === undefined && layer !== null && layer !== layers) {
    warnings.push(`--profile ${profile.name}: units() runs every layer; this graph ends at layer ${layer} as --output-layer asks`);
  }

  const wantProjection = finalProj === true || profile?.projection === true;
  let projection: ProjectionHead | null = null;
  if (wantProjection) {
    if (!model.projection) {
      const why = profile?.projection ? `--profile ${profile.name} applies the projection head (final_proj / proj)` : '--final-proj applies the projection head';
      throw new UsageError('E_NO_PROJECTION', `${why}, but this model has none (fairseq fine-tunes and transformers folders drop final_proj); convert the pretraining checkpoint, or drop the flag`);
    }
    checkProjection(model.projection, model.config.hidden_size);
    projection = model.projection;
  }
  if (kmeans && kmeans.dim !== model.config.hidden_size) {
    throw new CorruptInputError('E_KMEANS_DIM', `${kmeans.file} has ${kmeans.clusters} centres of width ${kmeans.dim}, but layer ${layer} of this model outputs ${model.config.hidden_size} features; use the quantizer fitted on this model`);
  }
  const inputPadding = profile?.inputPadding || model.inputPadding || 0;
  if (!Number.isSafeInteger(inputPadding) || inputPadding < 0 || inputPadding > 16000) {
    throw new CorruptInputError('E_INPUT_PADDING', `input padding ${inputPadding} is not a sample count from 0 to 16000`);
  }
  const spec: OutputSpec = { layer, projection, kmeans: kmeans ?? null, dedupUnits: dedupUnits === true, inputPadding, channelAxis: profile !== null, profile };
  if (profile) {
    const channels = projection ? projection.weight.shape[0]! : model.config.hidden_size;
    if (channels !== profile.channels) warnings.push(`--profile ${profile.name}: ${profile.project} expects ${profile.channels} channels; this graph's first output has ${channels}`);
  }
  return spec;
}

/** The spec as it is stored in each graph's metadata and the conversion report. */
export interface OutputsRecord {
  version: 1;
  outputs: string[];
  layer: number | null;
  projection: { name: string; file: string; out: number } | null;
  kmeans: { file: string; tensor: string; clusters: number; dim: number; source: string; format: string } | null;
  dedup_units: boolean;
  input_padding: number;
  input_layout: 'batch,samples' | 'batch,1,samples';
  profile: { name: string; project: string; drop_in_as: string } | null;
}

export function describeOutputs(spec: OutputSpec): OutputsRecord {
  const fileName = (path: string) => path.split(/[\\/]/).pop() ?? path;
  return {
    version: 1,
    outputs: outputNamesOf(spec),
    layer: spec.layer,
    projection: spec.projection ? { name: spec.projection.name, file: projectionFile(spec.projection), out: spec.projection.weight.shape[0]! } : null,
    kmeans: spec.kmeans ? { file: KMEANS_FILE, tensor: KMEANS_TENSOR, clusters: spec.kmeans.clusters, dim: spec.kmeans.dim, source: fileName(spec.kmeans.file), format: spec.kmeans.format } : null,
    dedup_units: spec.dedupUnits,
    input_padding: spec.inputPadding,
    input_layout: spec.channelAxis ? 'batch,1,samples' : 'batch,samples',
    profile: spec.profile ? { name: spec.profile.name, project: spec.profile.project, drop_in_as: spec.profile.dropInAs } : null,
  };
}

/** A record read back from a graph, checked field by field (it comes from a file); null when `json` is not one. */
export function parseOutputsRecord(json: string, layers: number): { record: OutputsRecord } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { problem: `${OUTPUTS_METADATA_KEY} is not JSON` };
  }
  const r = value as Partial<OutputsRecord> | null;
  if (typeof r !== 'object' || r === null || r.version !== 1) return { problem: `${OUTPUTS_METADATA_KEY} is not a version-1 outputs record` };
  const int = (v: unknown, lo: number, hi: number) => typeof v === 'number' && Number.isSafeInteger(v) && v >= lo && v <= hi;
  if (!(r.layer === null || int(r.layer, 1, layers))) return { problem: `layer ${String(r.layer)} is not 1..${layers}` };
  if (!int(r.input_padding, 0, 16000)) return { problem: `input_padding ${String(r.input_padding)} is not 0..16000` };
  if (r.input_layout !== 'batch,samples' && r.input_layout !== 'batch,1,samples') return { problem: `input_layout ${String(r.input_layout)} is unknown` };
  if (r.projection !== null && !(typeof r.projection === 'object' && (r.projection.name === 'final_proj' || r.projection.name === 'proj'))) return { problem: 'projection is not final_proj or proj' };
  if (r.kmeans !== null && !(typeof r.kmeans === 'object' && r.kmeans.file === KMEANS_FILE)) return { problem: `kmeans must name ${KMEANS_FILE}` };
  if (typeof r.dedup_units !== 'boolean' || (r.dedup_units && !r.kmeans)) return { problem: 'dedup_units is not a boolean, or is set without kmeans' };
  const expected = outputNamesOf({ layer: r.layer ?? null, dedupUnits: r.dedup_units, projection: r.projection ?? null, kmeans: r.kmeans });
  if (!Array.isArray(r.outputs) || r.outputs.join(',') !== expected.join(',')) return { problem: `outputs [${String(r.outputs)}] do not follow from the record (expected ${expected.join(', ')})` };
  return { record: r as OutputsRecord };
}
