/**
 * k-means quantizers of HuBERT features, read as data: only the cluster centres matter (units = nearest centre).
 *
 * Two layouts exist (fixtures/FAMILY.md §1.3, §1.5):
 * - fairseq `examples/hubert/simple_kmeans/learn_kmeans.py`: `joblib.dump` of a fitted sklearn `MiniBatchKMeans`
 *   (mHuBERT's `…_L11_km1000.bin`). Not a plain pickle: joblib replaces each numpy array by a `NumpyArrayWrapper`
 *   and writes the array's raw bytes right after that wrapper's BUILD (1 padding-length byte + padding when the
 *   wrapper records `numpy_array_alignment_bytes`, then the elements in `order`). The pickle goes through our
 *   unpickler (allow-list entries for exactly these globals); the raw bytes are read as data and never interpreted.
 *   Object arrays (a nested pickle) and compressed dumps are refused.
 * - bshall/hubert's `kmeans100-….pt`: a torch-saved dict `{n_features_in_, _n_threads, cluster_centers_}`.
 */
import type { ByteSource } from '../byte-source.js';
import { CorruptInputError, type ErrorCodeOf, UnsupportedModelError } from '../errors.js';
import { MemoryTensor, toFloat32, type TensorData } from '../tensor.js';
import { LazyTensor } from './lazy-tensor.js';
import { resolveLimits, type PickleLimits } from './pickle/limits.js';
import { type GlobalUse, type RawBytes, unpickleAt } from './pickle/unpickler.js';
import { PyGlobal, PyObject, type PyValue, isPySequence } from './pickle/values.js';
import { readTorchZip } from './torch.js';

export type KMeansFormat = 'joblib-sklearn' | 'torch-dict';

export interface KMeansQuantizer {
  file: string;
  format: KMeansFormat;
  /** The estimator class for joblib files (`sklearn.cluster._kmeans.MiniBatchKMeans`), null for bshall's dict. */
  estimator: string | null;
  /** Number of clusters K and feature width D. */
  clusters: number;
  dim: number;
  /** F32 [K, D], row-major. */
  centers: Float32Array;
  /** Every global the pickle named. */
  globals: GlobalUse[];
}

export interface KMeansReadOptions {
  allowGlobals?: readonly string[];
  limits?: Partial<PickleLimits>;
}

const ESTIMATORS = new Set(['sklearn.cluster._kmeans.MiniBatchKMeans', 'sklearn.cluster._kmeans.KMeans']);
const WRAPPER = 'joblib.numpy_pickle.NumpyArrayWrapper';
/** Largest quantizer accepted: K × D floats (mHuBERT's 1000 × 768 is 0.8 M). */
const MAX_CENTER_VALUES = 1 << 26;

/** A numpy array read from the raw section after its wrapper: its dtype string, shape and bytes (C order). */
export class NumpyArray extends PyObject {
  constructor(
    readonly dtype: string,
    readonly shape: readonly number[],
    readonly data: Uint8Array,
  ) {
    super('numpy.ndarray');
  }
}

function corrupt(code: ErrorCodeOf<'corrupt'>, message: string, details: Record<string, unknown> = {}): CorruptInputError {
  return new CorruptInputError(code, message, details);
}

function stateOf(value: PyValue): Map<PyValue, PyValue> | null {
  if (value instanceof PyObject && value.state instanceof Map) return value.state;
  return null;
}

/** numpy dtype record → `{kind, size, littleEndian}`; variable or object kinds are refused. */
function parseDtype(dtype: PyValue, where: string): { text: string; kind: string; size: number; little: boolean } {
  if (!(dtype instanceof PyObject) || dtype.className !== 'numpy.dtype' || typeof dtype.args?.[0] !== 'string') {
    throw corrupt('E_KMEANS_ARRAY', `${where}: the array's dtype is not a numpy dtype record`);
  }
  const text = dtype.args[0];
  const m = /^([<>|=]?)([biufc])(\d{1,2})$/.exec(text);
  if (text === 'O' || text.endsWith('O') || text.startsWith('O')) {
    throw corrupt('E_KMEANS_OBJECT_ARRAY', `${where}: an object-dtype array, which joblib stores as a nested pickle of Python objects; a fitted k-means holds numeric arrays only. Refit and save it with joblib.dump`);
  }
  if (!m) throw corrupt('E_KMEANS_ARRAY', `${where}: array dtype "${text}" is not a plain number type (f4, f8, i8, ...)`);
  const size = Number(m[3]);
  if (![1, 2, 4, 8, 16].includes(size)) throw corrupt('E_KMEANS_ARRAY', `${where}: array dtype "${text}" has an impossible item size`);
  // the byte order: the dtype's BUILD state tuple (version, '<'|'>'|'|', ...) or the prefix of the string
  const state = dtype.state;
  const order = isPySequence(state) && typeof state[1] === 'string' ? state[1] : m[1] || '<';
  if (!['<', '>', '|', '='].includes(order)) throw corrupt('E_KMEANS_ARRAY', `${where}: array byte order "${order}" is not <, > or |`);
  return { text, kind: m[2]!, size, little: order !== '>' };
}

function shapeOf(value: PyValue, where: string): number[] {
  if (!isPySequence(value) || !value.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw corrupt('E_KMEANS_ARRAY', `${where}: the array's shape is not a tuple of non-negative integers`);
  }
  return [...(value as number[])];
}

/** Reads the raw section after a NumpyArrayWrapper's BUILD (joblib's NumpyArrayWrapper.read_array, as data). */
function readWrappedArray(wrapper: PyObject, raw: RawBytes, limits: PickleLimits): NumpyArray {
  const where = raw.where;
  const state = stateOf(wrapper);
  if (!state) throw corrupt('E_KMEANS_ARRAY', `${where}: a NumpyArrayWrapper without its state dict`);
  const dtype = parseDtype(state.get('dtype') ?? null, where);
  const shape = shapeOf(state.get('shape') ?? null, where);
  const order = state.get('order') ?? 'C';
  if (order !== 'C' && order !== 'F') throw corrupt('E_KMEANS_ARRAY', `${where}: array order ${JSON.stringify(order)} is neither 'C' nor 'F'`);
  const subclass = state.get('subclass');
  if (!(subclass instanceof PyGlobal && subclass.fullName === 'numpy.ndarray')) {
    throw corrupt('E_KMEANS_ARRAY', `${where}: the wrapped array is not a numpy.ndarray (a subclass would need its own code)`);
  }
  let count = 1;
  for (const d of shape) count *= d;
  const byteLength = count * dtype.size;
  if (!Number.isSafeInteger(byteLength) || byteLength > limits.maxPickleBytes) {
    throw corrupt('E_KMEANS_ARRAY', `${where}: an array of shape [${shape.join(', ')}] (${byteLength} bytes) is larger than the file can hold`);
  }
  // joblib ≥ 1.2 aligns the data: one byte holding the padding length, then that many padding bytes
  const alignment = state.get('numpy_array_alignment_bytes');
  if (alignment !== undefined && alignment !== null) {
    const padding = raw.read(1, 'the array padding length')[0]!;
    raw.read(padding, 'the array padding');
  }
  let data: Uint8Array = raw.read(byteLength, `the array data (${shape.join(' × ')} × ${dtype.size} bytes)`).slice();
  if (!dtype.little && dtype.size > 1) {
    for (let i = 0; i < data.byteLength; i += dtype.size) data.subarray(i, i + dtype.size).reverse();
  }
  if (order === 'F' && shape.length > 1) data = fortranToC(data, shape, dtype.size);
  return new NumpyArray(`${dtype.kind}${dtype.size}`, shape, data);
}

/** Column-major bytes → row-major bytes. */
function fortranToC(data: Uint8Array, shape: readonly number[], size: number): Uint8Array {
  const out = new Uint8Array(data.byteLength);
  const n = shape.length;
  const count = data.byteLength / size;
  const index = new Array<number>(n).fill(0);
  for (let f = 0; f < count; f++) {
    // f enumerates elements in Fortran order: the first axis fastest
    let c = 0;
    for (let a = 0; a < n; a++) c = c * shape[a]! + index[a]!;
    out.set(data.subarray(f * size, (f + 1) * size), c * size);
    for (let a = 0; a < n; a++) {
      if (++index[a]! < shape[a]!) break;
      index[a] = 0;
    }
  }
  return out;
}

function floatsOf(array: NumpyArray, what: string, file: string): Float32Array {
  const dv = new DataView(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const count = array.data.byteLength / Number(array.dtype.slice(1));
  const out = new Float32Array(count);
  if (array.dtype === 'f4') for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
  else if (array.dtype === 'f8') for (let i = 0; i < count; i++) out[i] = dv.getFloat64(i * 8, true);
  else throw corrupt('E_KMEANS_CENTERS', `${file}: ${what} has dtype ${array.dtype}; cluster centres are float32 or float64`);
  return out;
}

/** Checks K × D centres and returns the quantizer. */
function quantizer(file: string, format: KMeansFormat, estimator: string | null, shape: readonly number[], centers: Float32Array, declared: { clusters?: PyValue; dim?: PyValue }, globals: GlobalUse[]): KMeansQuantizer {
  if (shape.length !== 2 || shape[0]! < 1 || shape[1]! < 1) {
    throw corrupt('E_KMEANS_SHAPE', `${file}: cluster_centers_ has shape [${shape.join(', ')}]; a k-means quantizer has [n_clusters, n_features] with both ≥ 1`);
  }
  const [clusters, dim] = shape as [number, number];
  if (clusters * dim > MAX_CENTER_VALUES) throw corrupt('E_KMEANS_SHAPE', `${file}: ${clusters} × ${dim} cluster centres exceed the ${MAX_CENTER_VALUES} values a quantizer may have`);
  for (const [name, value, expected] of [['n_clusters', declared.clusters, clusters], ['n_features_in_', declared.dim, dim]] as const) {
    if (value !== undefined && value !== null && value !== expected) {
      throw corrupt('E_KMEANS_SHAPE', `${file}: ${name} is ${String(value)} but cluster_centers_ has shape [${clusters}, ${dim}]; the file is inconsistent`);
    }
  }
  for (let i = 0; i < centers.length; i++) {
    if (!Number.isFinite(centers[i]!)) throw corrupt('E_KMEANS_NON_FINITE', `${file}: cluster centre ${Math.floor(i / dim)} holds ${centers[i]}; a usable quantizer has finite centres`);
  }
  return { file, format, estimator, clusters, dim, centers, globals };
}

function readJoblib(source: ByteSource, options: KMeansReadOptions): KMeansQuantizer {
  const limits = resolveLimits(options.limits);
  if (source.size > limits.maxPickleBytes) throw corrupt('E_PICKLE_LIMIT', `${source.name}: ${source.size} bytes exceed limits.maxPickleBytes=${limits.maxPickleBytes}`);
  const bytes = source.read(0, source.size);
  const globals = new Map<string, GlobalUse>();
  const { value, end } = unpickleAt(bytes, {
    ...(options.allowGlobals ? { allowGlobals: options.allowGlobals } : {}),
    limits,
    name: source.name,
    globals,
    afterBuild: (built, raw) => (built instanceof PyObject && built.className === WRAPPER ? readWrappedArray(built, raw, limits) : undefined),
  });
  if (end !== bytes.byteLength) throw corrupt('E_KMEANS_TRAILING', `${source.name}: ${bytes.byteLength - end} bytes follow the end of the joblib pickle; not a joblib.dump file`);
  if (!(value instanceof PyObject) || !ESTIMATORS.has(value.className)) {
    const what = value instanceof PyObject ? value.className : 'a plain value';
    throw new UnsupportedModelError('E_KMEANS_NOT_KMEANS', `${source.name} holds ${what}, not a fitted sklearn KMeans/MiniBatchKMeans (fairseq learn_kmeans.py output)`);
  }
  const state = stateOf(value);
  const centers = state?.get('cluster_centers_');
  if (centers === undefined) throw corrupt('E_KMEANS_NOT_FITTED', `${source.name}: the ${value.className} has no cluster_centers_ (it was saved before fitting); fit it, then save it`);
  if (!(centers instanceof NumpyArray)) throw corrupt('E_KMEANS_CENTERS', `${source.name}: cluster_centers_ is not a numpy array`);
  return quantizer(source.name, 'joblib-sklearn', value.className, centers.shape, floatsOf(centers, 'cluster_centers_', source.name), { clusters: state!.get('n_clusters'), dim: state!.get('n_features_in_') }, [...globals.values()]);
}

function readTorchDict(source: ByteSource, options: KMeansReadOptions): KMeansQuantizer {
  const globals = new Map<string, GlobalUse>();
  const root = readTorchZip(source, { allowGlobals: options.allowGlobals ?? [], limits: resolveLimits(options.limits), globals, warnings: [] });
  if (!(root instanceof Map)) throw new UnsupportedModelError('E_KMEANS_NOT_KMEANS', `${source.name} is a torch file but not a k-means dict {n_features_in_, _n_threads, cluster_centers_}`);
  const centers = root.get('cluster_centers_');
  if (!(centers instanceof LazyTensor)) {
    throw new UnsupportedModelError('E_KMEANS_NOT_KMEANS', `${source.name} is a torch file without a cluster_centers_ tensor; a k-means quantizer (bshall/hubert kmeans100) holds {n_features_in_, _n_threads, cluster_centers_}`);
  }
  centers.validate('cluster_centers_');
  if (!['F32', 'F64', 'F16', 'BF16'].includes(centers.dtype)) throw corrupt('E_KMEANS_CENTERS', `${source.name}: cluster_centers_ has dtype ${centers.dtype}; cluster centres are floats`);
  const values = centers.shape.length === 2 ? toFloat32(centers as TensorData) : new Float32Array(0);
  return quantizer(source.name, 'torch-dict', null, centers.shape, values, { dim: root.get('n_features_in_') }, [...globals.values()]);
}

/** Reads a k-means quantizer (joblib sklearn dump or bshall's torch dict); `source` stays open. */
export function readKMeans(source: ByteSource, options: KMeansReadOptions = {}): KMeansQuantizer {
  if (source.size === 0) throw corrupt('E_EMPTY_FILE', `${source.name} is empty (0 bytes); the download or copy probably failed`);
  const head = source.read(0, Math.min(source.size, 4));
  if (head[0] === 0x50 && head[1] === 0x4b) return readTorchDict(source, options);
  if (head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) return readJoblib(source, options);
  if ((head[0] === 0x5a && head[1] === 0x46) || (head[0] === 0x1f && head[1] === 0x8b) || (head[0] === 0x42 && head[1] === 0x5a) || (head[0] === 0xfd && head[1] === 0x37) || (head[0] === 0x5d && head[1] === 0x00)) {
    throw new UnsupportedModelError('E_KMEANS_COMPRESSED', `${source.name} is a compressed joblib dump; load it and save it again uncompressed (joblib.dump(km, path)), as fairseq's learn_kmeans.py does`);
  }
  throw corrupt('E_KMEANS_FORMAT', `${source.name} is neither a joblib k-means dump (fairseq learn_kmeans.py) nor a torch-saved k-means dict (bshall/hubert)`);
}

/** The centres as a tensor, for the folder's `kmeans.safetensors`. */
export function centersTensor(q: KMeansQuantizer): TensorData {
  return MemoryTensor.fromFloat32([q.clusters, q.dim], q.centers);
}
