import { HubertConvertError } from './errors.js';
import { DTYPE_SIZE, type DType, bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBFloat16Bits, float32ToFloat16Bits } from './dtype.js';

/**
 * A tensor whose bytes are produced on demand. Readers hand these out (lazily backed by the checkpoint file), the
 * mapping passes them through, writers stream them. Bytes are always C-contiguous and little-endian.
 */
export interface TensorData {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** numel × itemsize */
  readonly byteLength: number;
  /** All bytes at once (fine for small tensors and for tests). */
  bytes(): Uint8Array;
  /**
   * The same bytes in element-aligned pieces of at most `maxBytes` (default 4 MiB). A yielded view may share a
   * reused buffer: consume it before asking for the next one.
   */
  chunks(maxBytes?: number): Iterable<Uint8Array>;
  /**
   * Fills `into` with the bytes at [offset, offset + into.byteLength) when they are one plain read of a file (a
   * contiguous tensor), so a writer can read straight into its own buffer; false (nothing read) when they are not.
   */
  readInto?(offset: number, into: Uint8Array): boolean;
}

export const DEFAULT_CHUNK_BYTES = 4 << 20;

/**
 * numel of a shape, by checked multiplication: null when numel × itemsize would pass 2^53 (no file can hold that,
 * and plain float arithmetic would round the count).
 */
export function checkedNumel(shape: readonly number[], itemsize = 1): number | null {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return null;
    n *= d;
    if (n * itemsize > Number.MAX_SAFE_INTEGER) return null;
  }
  return n;
}

/** The most bytes one tensor may take when held whole in memory (bytes(), toFloat32/64); writers stream instead. */
export const MAX_IN_MEMORY_TENSOR_BYTES = 2 ** 32;

/** A zeroed buffer for a whole tensor, or a typed error when the tensor is too large to hold (never a RangeError). */
export function allocateBytes(byteLength: number, what: string): Uint8Array {
  checkInMemory(byteLength, what);
  return new Uint8Array(byteLength);
}

function checkInMemory(byteLength: number, what: string): void {
  if (!(byteLength <= MAX_IN_MEMORY_TENSOR_BYTES)) {
    throw new HubertConvertError('unsupported', 'E_TENSOR_TOO_LARGE', `${what}: ${byteLength} bytes are more than the ${MAX_IN_MEMORY_TENSOR_BYTES} bytes one tensor may take in memory`, {
      bytes: byteLength,
    });
  }
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A tensor that already lives in memory. */
export class MemoryTensor implements TensorData {
  readonly byteLength: number;
  constructor(
    readonly dtype: DType,
    readonly shape: readonly number[],
    private readonly data: Uint8Array,
  ) {
    this.byteLength = numelOf(shape) * DTYPE_SIZE[dtype];
    if (data.byteLength !== this.byteLength) {
      throw new Error(`MemoryTensor: ${data.byteLength} bytes given for ${dtype}[${shape.join(',')}] (needs ${this.byteLength})`);
    }
  }
  static fromFloat32(shape: readonly number[], values: Float32Array): MemoryTensor {
    return new MemoryTensor('F32', shape, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  bytes(): Uint8Array {
    return this.data;
  }
  *chunks(maxBytes = DEFAULT_CHUNK_BYTES): Iterable<Uint8Array> {
    const step = Math.max(DTYPE_SIZE[this.dtype], maxBytes - (maxBytes % DTYPE_SIZE[this.dtype]));
    for (let at = 0; at < this.byteLength; at += step) yield this.data.subarray(at, Math.min(this.byteLength, at + step));
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Decode float bytes of any float dtype into numbers written to `out` starting at `at`. */
function decodeFloatsInto(dtype: DType, bytes: Uint8Array, out: Float32Array | Float64Array, at: number): void {
  const n = bytes.byteLength / DTYPE_SIZE[dtype];
  if (LITTLE_ENDIAN_HOST && ((dtype === 'F32' && out instanceof Float32Array) || (dtype === 'F64' && out instanceof Float64Array))) {
    // same representation: a byte copy (the chunk may sit at any byte offset, so no typed view of it)
    new Uint8Array(out.buffer, out.byteOffset + at * out.BYTES_PER_ELEMENT, bytes.byteLength).set(bytes);
    return;
  }
  const dv = view(bytes);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[at + i] = dv.getFloat32(i * 4, true);
      return;
    case 'F64':
      for (let i = 0; i < n; i++) out[at + i] = dv.getFloat64(i * 8, true);
      return;
    case 'F16':
      for (let i = 0; i < n; i++) out[at + i] = float16BitsToFloat32(dv.getUint16(i * 2, true));
      return;
    case 'BF16':
      for (let i = 0; i < n; i++) out[at + i] = bfloat16BitsToFloat32(dv.getUint16(i * 2, true));
      return;
    default:
      throw new Error(`not a float dtype: ${dtype}`);
  }
}

function decodeAll<T extends Float32Array | Float64Array>(t: TensorData, out: T): T {
  let at = 0;
  for (const c of t.chunks()) {
    decodeFloatsInto(t.dtype, c, out, at);
    at += c.byteLength / DTYPE_SIZE[t.dtype];
  }
  return out;
}

/** The tensor's values as float32 (exact for F32/F16/BF16; F64 rounds). */
export function toFloat32(t: TensorData): Float32Array {
  checkInMemory(numelOf(t.shape) * 4, `a ${t.dtype}[${t.shape.join(', ')}] tensor as float32`);
  return decodeAll(t, new Float32Array(numelOf(t.shape)));
}

/** The tensor's values as float64 (exact for every float dtype). */
export function toFloat64(t: TensorData): Float64Array {
  checkInMemory(numelOf(t.shape) * 8, `a ${t.dtype}[${t.shape.join(', ')}] tensor as float64`);
  return decodeAll(t, new Float64Array(numelOf(t.shape)));
}

/**
 * A float tensor seen as another float dtype, converted chunk by chunk with torch's rounding (round to nearest even).
 * Casting to the same dtype returns the tensor itself.
 */
export function castTensor(t: TensorData, to: DType): TensorData {
  if (t.dtype === to) return t;
  const fromSize = DTYPE_SIZE[t.dtype];
  const toSize = DTYPE_SIZE[to];
  const numel = numelOf(t.shape);
  const convertChunk = (src: Uint8Array, out: Uint8Array): Uint8Array => {
    const n = src.byteLength / fromSize;
    const values = new Float64Array(n);
    decodeFloatsInto(t.dtype, src, values, 0);
    const dv = view(out);
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      switch (to) {
        case 'F32': dv.setFloat32(i * 4, v, true); break;
        case 'F64': dv.setFloat64(i * 8, v, true); break;
        // F64 → F16/BF16 goes through float32 first, as torch does for these casts on CPU
        case 'F16': dv.setUint16(i * 2, float32ToFloat16Bits(v), true); break;
        case 'BF16': dv.setUint16(i * 2, float32ToBFloat16Bits(v), true); break;
        default: throw new Error(`cannot cast to ${to}`);
      }
    }
    return out.subarray(0, n * toSize);
  };
  return {
    dtype: to,
    shape: t.shape,
    byteLength: numel * toSize,
    bytes() {
      const out = new Uint8Array(numel * toSize);
      let at = 0;
      for (const c of t.chunks()) {
        convertChunk(c, out.subarray(at));
        at += (c.byteLength / fromSize) * toSize;
      }
      return out;
    },
    *chunks(maxBytes = DEFAULT_CHUNK_BYTES) {
      const srcChunk = Math.max(fromSize, Math.floor(maxBytes / toSize) * fromSize);
      let buffer = new Uint8Array(0);
      for (const c of t.chunks(srcChunk)) {
        const need = (c.byteLength / fromSize) * toSize;
        if (buffer.byteLength < need) buffer = new Uint8Array(need);
        yield convertChunk(c, buffer);
      }
    },
  };
}
