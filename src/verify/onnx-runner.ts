/**
 * Runs the folder's ONNX variants in onnxruntime-node (CPU). Inputs are fed by name: `input_values` float32 [B, L]
 * and, when the graph declares it, `attention_mask` int64 [B, L]. Outputs come back as float64 arrays keyed by
 * canonical names (`hidden_states_3` is read as `hidden_states.3`); float16 outputs are widened exactly.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
// first: it switches the runtime's telemetry off before the runtime loads (see the module)
import './runtime-telemetry-off.js';
import * as ort from 'onnxruntime-node';
import type { ByteSource } from '../byte-source.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../dtype.js';
import { CorruptInputError, HubertConvertError } from '../errors.js';
import { ONNX_VARIANT_FILES } from '../model.js';
import { openInputFile } from '../node-files.js';
import { type OnnxModelIndex, readOnnxModel } from '../readers/onnx-model.js';
import { type CrossingType, ORT_TENSOR_TYPES, type PiecePlan, encodePiece, mib, planPieces } from './piecewise.js';
import type { VerifyProgressSink } from './progress.js';
import type { Variant } from './report.js';

/** transformers.js file names. */
export const VARIANT_FILES = ONNX_VARIANT_FILES;

export interface GraphOutput {
  data: Float64Array;
  shape: number[];
  /** an int64 output (k-means units), its values exact in `data` */
  integer?: true;
}

export interface OnnxGraph {
  variant: Variant;
  file: string;
  inputNames: readonly string[];
  outputNames: readonly string[];
  takesMask: boolean;
  /** `mask` null: an all-ones mask is fed to graphs that require one */
  run(inputValues: Float32Array, batch: number, length: number, mask: BigInt64Array | null): Promise<Record<string, GraphOutput>>;
  release(): Promise<void>;
  /** set for a graph run in pieces (piecewise.ts): how many, and the estimates */
  pieces?: PiecewiseInfo;
  /**
   * Runs every request through the graph, piece by piece (each piece loaded once, run on every request, released):
   * the outputs of each request, or why it failed. A piece that does not load rejects the whole call.
   */
  runAll?(requests: readonly GraphRequest[]): Promise<Array<Record<string, GraphOutput> | Error>>;
}

export interface GraphRequest {
  name: string;
  inputValues: Float32Array;
  batch: number;
  length: number;
  /** as for run(): null feeds an all-ones mask to graphs that require one */
  mask: BigInt64Array | null;
}

export interface PiecewiseInfo {
  pieces: number;
  /** estimated session bytes of the whole graph and of its biggest piece (piecewise.ts sessionBytesOf) */
  estimatedBytes: number;
  largestPieceBytes: number;
}

export function canonicalOutputName(name: string): string {
  const m = /^hidden_states[._](\d+)$/.exec(name);
  return m ? `hidden_states.${m[1]}` : name;
}

/** The variant files present in `<dir>/onnx/`. */
export function presentVariants(dir: string): Variant[] {
  return (Object.keys(VARIANT_FILES) as Variant[]).filter((v) => existsSync(join(dir, VARIANT_FILES[v])));
}

function widen(tensor: ort.Tensor): Float64Array {
  const data = tensor.data;
  if (tensor.type === 'float16' && data instanceof Uint16Array) {
    const out = new Float64Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = float16BitsToFloat32(data[i]!);
    return out;
  }
  if (data instanceof Float32Array || data instanceof Float64Array) return Float64Array.from(data);
  if (data instanceof BigInt64Array) return Float64Array.from(data, (v) => Number(v)); // unit ids: small integers
  throw new Error(`output of type ${tensor.type} is not a float tensor`);
}

/**
 * Float graphs (fp32, fp16) are opened without MatMul weight prepacking. Prepacking copies every weight into a packed
 * buffer: for an fp32 graph with external data that turns 3.85 GB of file-backed pages onnxruntime maps (x-large,
 * `model.onnx_data` at 4096-aligned offsets) into 3.7 GB of anonymous memory, and it takes 4.9 s of the fp32 session's
 * 5 s load; without it the mapped weights are used in place (anonymous memory 54 MB, load 0.4 s). On the fp16 graph it
 * lowers the load's peak by 0.4 GB and its time from 12 s to 7 s (bench/RESULTS.md). A verify run is two or three
 * forward passes, too few for packing to pay off; the results differ from packed ones by float32 rounding only.
 * Quantized graphs keep it: DynamicQuantizeMatMul packs its int8 weights into a different kernel path, which is the
 * path users get, and their sessions are small.
 */
export function sessionOptionsFor(variant: Variant): ort.InferenceSession.SessionOptions {
  const float = variant === 'fp32' || variant === 'fp16';
  return { graphOptimizationLevel: 'all', ...(float ? { extra: { session: { disable_prepacking: '1' } } } : {}) };
}

export async function openGraph(dir: string, variant: Variant): Promise<OnnxGraph> {
  const file = VARIANT_FILES[variant];
  const session = await ort.InferenceSession.create(join(dir, file), sessionOptionsFor(variant));
  const takesMask = session.inputNames.includes('attention_mask');
  const inputMeta = new Map(session.inputMetadata.map((m) => [m.name, m]));
  // the voice-conversion profiles take [batch, 1, samples] (src/outputs.ts)
  const channelAxis = (() => {
    const m = inputMeta.get('input_values');
    return m !== undefined && m.isTensor && m.shape.length === 3;
  })();
  const valuesType = (() => {
    const m = inputMeta.get('input_values');
    return m && m.isTensor ? m.type : 'float32';
  })();
  const shape = { takesMask, channelAxis, float16: valuesType === 'float16' };
  return {
    variant,
    file,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    takesMask,
    async run(inputValues, batch, length, mask) {
      const results = await session.run(feedsFor(shape, { inputValues, batch, length, mask }));
      return graphOutputs(session.outputNames.map((name) => [name, results[name] as ort.Tensor]));
    },
    release: () => session.release(),
  };
}

interface FeedShape {
  takesMask: boolean;
  /** input_values is [batch, 1, samples] (the voice-conversion profiles, src/outputs.ts) */
  channelAxis: boolean;
  /** input_values is float16: not what our builder writes (fp16 graphs keep float32 I/O), but a foreign graph may ask for it */
  float16: boolean;
}

function feedsFor(shape: FeedShape, request: Omit<GraphRequest, 'name'>): Record<string, ort.Tensor> {
  const { inputValues, batch, length, mask } = request;
  const feeds: Record<string, ort.Tensor> = {};
  const dims = shape.channelAxis ? [batch, 1, length] : [batch, length];
  feeds.input_values = shape.float16 ? new ort.Tensor('float16', Uint16Array.from(inputValues, float32ToFloat16Bits), dims) : new ort.Tensor('float32', inputValues, dims);
  if (shape.takesMask) feeds.attention_mask = new ort.Tensor('int64', mask ?? new BigInt64Array(batch * length).fill(1n), [batch, length]);
  return feeds;
}

function graphOutputs(tensors: Iterable<[string, ort.Tensor]>): Record<string, GraphOutput> {
  const out: Record<string, GraphOutput> = {};
  for (const [name, t] of tensors) out[canonicalOutputName(name)] = { data: widen(t), shape: t.dims.map(Number), ...(t.type === 'int64' ? { integer: true as const } : {}) };
  return out;
}

/** 1 MiB; `memoryBudgetMiB` options count in it. */
const MIB = 1 << 20;

/** A memory budget option (MiB; 0 or 'whole': every graph whole) in bytes; 0 means whole. */
export function budgetBytes(memoryBudgetMiB: number | 'whole'): number {
  return memoryBudgetMiB === 'whole' ? 0 : memoryBudgetMiB * MIB;
}

/** The model file's index, its external data checked: every location a regular file next to the graph, every range inside it. */
export function readGraphIndex(path: string): { index: OnnxModelIndex; source: ByteSource } {
  const source = openInputFile(path, { what: 'ONNX graph' });
  try {
    const index = readOnnxModel(source);
    const sizes = new Map<string, number>();
    for (const init of index.initializers) {
      if (!init.external) continue;
      const { location, offset, length } = init.external;
      let size = sizes.get(location);
      if (size === undefined) {
        const dataPath = join(dirname(path), location);
        try {
          const data = openInputFile(dataPath, { what: 'ONNX external data' });
          size = data.size;
          data.close();
        } catch (error) {
          const why = error instanceof HubertConvertError ? error.message : String(error);
          throw new CorruptInputError('E_ONNX_EXTERNAL_DATA', `${path}: initializer "${init.name}" keeps its data in ${location}, which cannot be read (${why}); copy the folder again with its external data files`, { tensor: init.name, location });
        }
        sizes.set(location, size);
      }
      const end = offset + (length ?? 0);
      if (end > size) {
        throw new CorruptInputError('E_ONNX_EXTERNAL_DATA', `${path}: initializer "${init.name}" needs bytes ${offset}..${end} of ${location}, which has ${size}; the external data file is truncated or from another graph`, { tensor: init.name, location, offset, end, size });
      }
    }
    return { index, source };
  } catch (error) {
    source.close();
    throw error;
  }
}

/** How the graph of `variant` runs under the budget (bytes; 0: whole, without reading the file here). */
export function planGraph(dir: string, variant: Variant, budget: number): { plan: PiecePlan; index: OnnxModelIndex | null; source: ByteSource | null } {
  if (!(budget > 0)) return { plan: { kind: 'whole', cost: 0, reason: 'piecewise runs are off' }, index: null, source: null };
  const { index, source } = readGraphIndex(join(dir, VARIANT_FILES[variant]));
  const plan = planPieces(index, budget);
  if (plan.kind === 'whole') {
    source.close();
    return { plan, index, source: null };
  }
  return { plan, index, source };
}

/**
 * The graph of `variant`: one onnxruntime session when it fits the budget (bytes), else a piecewise graph whose
 * pieces are loaded one at a time by runAll (see piecewise.ts). `loading` wraps the whole-graph session load (a stage).
 */
export async function openVariant(
  dir: string,
  variant: Variant,
  budget: number,
  progress?: VerifyProgressSink,
  loading: (load: () => Promise<OnnxGraph>) => Promise<OnnxGraph> = (load) => load(),
): Promise<OnnxGraph> {
  const { plan, index, source } = planGraph(dir, variant, budget);
  if (plan.kind === 'whole' || !index || !source) return loading(() => openGraph(dir, variant));
  return piecewiseGraph(dir, variant, index, source, plan.pieces, plan.cost, progress);
}

function piecewiseGraph(dir: string, variant: Variant, index: OnnxModelIndex, source: ByteSource, pieces: Extract<PiecePlan, { kind: 'pieces' }>['pieces'], cost: number, progress?: VerifyProgressSink): OnnxGraph {
  const file = VARIANT_FILES[variant];
  const initializerNames = new Set(index.initializers.map((i) => i.name));
  const inputs = index.inputs.filter((i) => !initializerNames.has(i.name));
  const inputNames = inputs.map((i) => i.name);
  const values = inputs.find((i) => i.name === 'input_values');
  const takesMask = inputNames.includes('attention_mask');
  const shape: FeedShape = { takesMask, channelAxis: values?.rank === 3, float16: values?.elemType === ORT_TENSOR_TYPES.float16 };
  const outputNames = index.outputs.map((o) => o.name);
  // the tensors still needed after piece k: later pieces' inputs and the graph outputs
  const neededAfter = pieces.map((_, k) => new Set([...pieces.slice(k + 1).flatMap((p) => p.inputs), ...outputNames]));
  // inline initializers are referenced where they lie in the model file, not copied into the piece's bytes: the
  // session reads them once (HuBERT-base, 100 MiB pieces: peak 224 MiB against 331 MiB copied for fp32, 212 against
  // 265 for fp16; bench/RESULTS.md)
  const referTo = basename(file);
  const options = (): ort.InferenceSession.SessionOptions => {
    const base = sessionOptionsFor(variant);
    // pieces are loaded from memory: their external initializers are found relative to the model's folder
    return { ...base, extra: { session: { ...(base.extra?.session ?? {}), model_external_initializers_file_folder_path: join(dir, dirname(file)) } } };
  };
  const runAll = async (requests: readonly GraphRequest[]): Promise<Array<Record<string, GraphOutput> | Error>> => {
    const failed: Array<Error | null> = requests.map(() => null);
    const states = requests.map((r) => new Map(Object.entries(feedsFor(shape, r))));
    const types = new Map<string, CrossingType>();
    const N = pieces.length;
    // one counter for the whole run (the reporter gives it a rate and an ETA): each piece is loaded, run on every request, released
    const step = `${variant}: run ${file} in ${N} pieces of ≤ ${mib(Math.max(...pieces.map((p) => p.cost)))} (each loaded once, run on ${requests.map((r) => r.name).join(', ')})`;
    progress?.({ step, unit: 'piece', done: 0, total: N });
    for (let k = 0; k < N; k++) {
      const piece = pieces[k]!;
      const where = `piece ${k + 1}/${N} (nodes ${piece.start}–${piece.end - 1})`;
      if (failed.every((f) => f !== null)) break;
      let session: ort.InferenceSession;
      try {
        session = await ort.InferenceSession.create(encodePiece(index, source, piece, k, types, referTo), options());
      } catch (error) {
        throw new Error(`${where}: ${(error as Error).message}`);
      }
      try {
        for (let r = 0; r < requests.length; r++) {
          if (failed[r]) continue;
          const state = states[r]!;
          try {
            const feeds: Record<string, ort.Tensor> = {};
            for (const name of session.inputNames) feeds[name] = state.get(name)!;
            const results = await session.run(feeds);
            for (const [name, tensor] of Object.entries(results)) {
              const t = tensor as ort.Tensor;
              state.set(name, t);
              if (!types.has(name) && ORT_TENSOR_TYPES[t.type] !== undefined) types.set(name, { elemType: ORT_TENSOR_TYPES[t.type]!, rank: t.dims.length });
            }
            for (const name of [...state.keys()]) if (!neededAfter[k]!.has(name)) state.delete(name);
          } catch (error) {
            failed[r] = new Error(`${where}: ${(error as Error).message}`);
            states[r]!.clear();
          }
        }
      } finally {
        await session.release();
      }
      progress?.({ step, unit: 'piece', done: k + 1, total: N });
    }
    return requests.map((_, r) => failed[r] ?? graphOutputs(outputNames.map((name) => [name, states[r]!.get(name)!])));
  };
  return {
    variant,
    file,
    inputNames,
    outputNames,
    takesMask,
    pieces: { pieces: pieces.length, estimatedBytes: cost, largestPieceBytes: Math.max(...pieces.map((p) => p.cost)) },
    runAll,
    async run(inputValues, batch, length, mask) {
      const [result] = await runAll([{ name: 'input', inputValues, batch, length, mask }]);
      if (result instanceof Error) throw result;
      return result!;
    },
    release: async () => source.close(),
  };
}
