/**
 * Initializers made from the model's tensors, produced lazily (one tensor in memory at a time while writing):
 * plain copies, transposed Linear weights, the folded positional-conv weight, and groups derived from one weight
 * (the quantized Linear weights of linear.ts).
 */
import { CorruptInputError } from '../../errors.js';
import { isFloatDType } from '../../dtype.js';
import { castTensor, DEFAULT_CHUNK_BYTES, numelOf, toFloat32, toFloat64, type TensorData } from '../../tensor.js';
import { float32Bytes, float32ToHalfBits, float32ToHalfBytes } from './fp16.js';
import type { Initializer } from './graph.js';
import { ONNX_DTYPE, ONNX_DTYPE_SIZE, type OnnxDType } from './proto.js';
import { transposeInto } from './transpose.js';

export type FloatType = typeof ONNX_DTYPE.FLOAT | typeof ONNX_DTYPE.FLOAT16;

function encodeFloats(values: Float32Array | Float64Array, type: FloatType): Uint8Array {
  if (type === ONNX_DTYPE.FLOAT16) return float32ToHalfBytes(values);
  return float32Bytes(values instanceof Float32Array ? values : Float32Array.from(values));
}

function computed(name: string, dtype: OnnxDType, dims: number[], itemSize: number, produce: () => Uint8Array): Initializer {
  return { name, dtype, dims, byteLength: numelOf(dims) * itemSize, chunks: () => [produce()] };
}

/** Looks tensors up by their HF name (adding the `hubert.` prefix of head models for encoder tensors). */
export class ModelTensors {
  constructor(
    private readonly tensors: ReadonlyMap<string, TensorData>,
    readonly encoderPrefix: string,
  ) {}

  has(name: string): boolean {
    return this.tensors.has(name);
  }
  get(name: string, shape?: readonly number[]): TensorData {
    const t = this.tensors.get(name);
    if (!t) {
      throw new CorruptInputError('E_ONNX_MISSING_TENSOR', `tensor ${name} is missing from the model; the ONNX graph needs it (is the config consistent with the weights?)`, { tensor: name });
    }
    if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      throw new CorruptInputError('E_ONNX_TENSOR_SHAPE', `tensor ${name} has shape [${t.shape.join(', ')}] but the config implies [${shape.join(', ')}]`, { tensor: name, shape: t.shape, expected: shape });
    }
    if (!isFloatDType(t.dtype)) {
      throw new CorruptInputError('E_ONNX_TENSOR_DTYPE', `tensor ${name} has dtype ${t.dtype}; only float tensors can become ONNX weights`, { tensor: name });
    }
    return t;
  }
  /** An encoder tensor (`hubert.` prefixed in head models). */
  enc(name: string, shape?: readonly number[]): TensorData {
    return this.get(this.encoderPrefix + name, shape);
  }
}

/** The tensor as-is (cast to the graph's float type). */
export function plainInit(name: string, t: TensorData, type: FloatType): Initializer {
  const cast = castTensor(t, type === ONNX_DTYPE.FLOAT16 ? 'F16' : 'F32');
  return { name, dtype: type, dims: [...t.shape], byteLength: cast.byteLength, chunks: () => cast.chunks() };
}

/** A Linear weight [out, in] as a MatMul operand [in, out]. */
export function transposedInit(name: string, t: TensorData, type: FloatType): Initializer {
  const [outF, inF] = t.shape as [number, number];
  return computed(name, type, [inF, outF], type === ONNX_DTYPE.FLOAT16 ? 2 : 4, () => {
    const w = toFloat32(t);
    // the bits move as integers (fp16 encoded first, so the transpose moves half the bytes)
    if (type === ONNX_DTYPE.FLOAT16) {
      const half = float32ToHalfBits(w);
      return viewBytes(transposeInto(half, outF, inF, new Uint16Array(half.length)));
    }
    return viewBytes(transposeInto(new Uint32Array(w.buffer, w.byteOffset, w.length), outF, inF, new Uint32Array(w.length)));
  });
}

/**
 * The weight-normed positional conv weight, folded in float64: W[:,:,k] = g[k] · V[:,:,k] / ‖V[:,:,k]‖_F
 * (torch weight_norm with dim=2 keeps one norm per kernel tap).
 */
export function foldedWeightNormInit(name: string, g: TensorData, v: TensorData, type: FloatType): Initializer {
  const [outC, inC, k] = v.shape as [number, number, number];
  if (v.shape.length !== 3 || numelOf(g.shape) !== k) {
    throw new CorruptInputError('E_ONNX_WEIGHT_NORM', `${name}: weight_g [${g.shape.join(', ')}] does not match weight_v [${v.shape.join(', ')}] (expected weight_g with ${v.shape[2]} elements)`, { tensor: name });
  }
  return computed(name, type, [outC, inC, k], type === ONNX_DTYPE.FLOAT16 ? 2 : 4, () => {
    const gv = toFloat64(g);
    const vv = toFloat64(v);
    const norms = new Float64Array(k);
    for (let i = 0; i < vv.length; i++) norms[i % k]! += vv[i]! * vv[i]!;
    for (let j = 0; j < k; j++) norms[j] = gv[j]! / Math.sqrt(norms[j]!);
    for (let i = 0; i < vv.length; i++) vv[i] = vv[i]! * norms[i % k]!;
    return encodeFloats(vv, type);
  });
}

/** One initializer of a group computed together from one weight (a quantized matrix and its scales, say). */
export interface DerivedPart<T> {
  name: string;
  dtype: OnnxDType;
  dims: number[];
  bytes: (value: T) => Uint8Array;
}

/**
 * Initializers derived together from one Linear weight: `derive` runs once, when the first of them is written, and
 * its result is dropped after the last (the file writer walks initializers in order, so one weight is in memory).
 */
export function derivedInits<T>(t: TensorData, derive: (weight: Float32Array) => T, parts: readonly DerivedPart<T>[]): Initializer[] {
  let cache: T | null = null;
  let uses = 0;
  const get = (): T => {
    cache ??= derive(toFloat32(t));
    const value = cache;
    if (++uses === parts.length) {
      cache = null;
      uses = 0;
    }
    return value;
  };
  return parts.map((p) => {
    const byteLength = numelOf(p.dims) * ONNX_DTYPE_SIZE[p.dtype]!;
    return {
      name: p.name,
      dtype: p.dtype,
      dims: p.dims,
      byteLength,
      chunks: () => {
        const bytes = p.bytes(get());
        if (bytes.byteLength !== byteLength) throw new Error(`initializer ${p.name}: ${bytes.byteLength} bytes, expected ${byteLength}`);
        return [bytes];
      },
    };
  });
}

export const viewBytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Tensors of equal trailing shape stacked along dim 0 (as float32): row-major concatenation is byte concatenation. */
export function concatRows(parts: readonly TensorData[]): TensorData {
  const f32 = parts.map((p) => castTensor(p, 'F32'));
  const rest = parts[0]!.shape.slice(1);
  const shape = [parts.reduce((a, p) => a + p.shape[0]!, 0), ...rest];
  const byteLength = f32.reduce((a, p) => a + p.byteLength, 0);
  return {
    dtype: 'F32',
    shape,
    byteLength,
    bytes() {
      const out = new Uint8Array(byteLength);
      let at = 0;
      for (const p of f32) for (const c of p.chunks()) (out.set(c, at), (at += c.byteLength));
      return out;
    },
    *chunks(maxBytes = DEFAULT_CHUNK_BYTES) {
      for (const p of f32) yield* p.chunks(maxBytes);
    },
  };
}
