/**
 * Counting NaN and ±Inf in tensors, straight from their bytes (no decoding, no allocation beyond a few bytes of carry
 * between chunks): what `inspect`, `convert` and `verify` each scan with.
 */
import { DTYPE_SIZE, isFloatDType } from './dtype.js';
import type { TensorData } from './tensor.js';

export interface NonFiniteCount {
  nan: number;
  inf: number;
  /** Elements scanned. */
  total: number;
}

/** Per float dtype: the byte (little-endian) holding the top of the exponent, and how to classify one element. */
function classify(dtype: TensorData['dtype'], b: Uint8Array, at: number): 0 | 1 | 2 {
  switch (dtype) {
    case 'F32': {
      // exponent all ones: bits 30..23
      if ((b[at + 3]! & 0x7f) !== 0x7f || (b[at + 2]! & 0x80) === 0) return 0;
      return (b[at + 2]! & 0x7f) !== 0 || b[at + 1] !== 0 || b[at] !== 0 ? 1 : 2;
    }
    case 'F16': {
      if ((b[at + 1]! & 0x7c) !== 0x7c) return 0;
      return (b[at + 1]! & 0x03) !== 0 || b[at] !== 0 ? 1 : 2;
    }
    case 'BF16': {
      if ((b[at + 1]! & 0x7f) !== 0x7f || (b[at]! & 0x80) === 0) return 0;
      return (b[at]! & 0x7f) !== 0 ? 1 : 2;
    }
    case 'F64': {
      if ((b[at + 7]! & 0x7f) !== 0x7f || (b[at + 6]! & 0xf0) !== 0xf0) return 0;
      let mantissa = b[at + 6]! & 0x0f;
      for (let i = 0; i < 6; i++) mantissa |= b[at + i]!;
      return mantissa !== 0 ? 1 : 2;
    }
    default:
      return 0;
  }
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** F32 elements checked per block by allFinite before they are counted one by one. */
const F32_BLOCK = 4096;

/**
 * Whether values[start, end) are all finite: x * 0 is ±0 for a finite x and NaN for NaN or ±Inf, so the sums stay
 * 0 exactly when every element is finite. Branch-free float arithmetic, about twice as fast as testing each element's
 * exponent bits.
 */
function allFinite(values: Float32Array, start: number, end: number): boolean {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let i = start;
  for (; i + 3 < end; i += 4) {
    a += values[i]! * 0;
    b += values[i + 1]! * 0;
    c += values[i + 2]! * 0;
    d += values[i + 3]! * 0;
  }
  for (; i < end; i++) a += values[i]! * 0;
  return a + b + c + d === 0;
}

/**
 * The fast path: whole elements through a typed view (the common case, aligned chunks on a little-endian host), one
 * mask test per element; only elements with an all-ones exponent are looked at again. False when it cannot apply.
 */
function scanAligned(dtype: TensorData['dtype'], chunk: Uint8Array, from: number, to: number, counts: NonFiniteCount): boolean {
  const offset = chunk.byteOffset + from;
  if (!LITTLE_ENDIAN_HOST || to <= from) return to <= from;
  if (dtype === 'F32' && offset % 4 === 0) {
    const bits = new Uint32Array(chunk.buffer, offset, (to - from) / 4);
    const values = new Float32Array(chunk.buffer, offset, bits.length);
    for (let start = 0; start < values.length; start += F32_BLOCK) {
      const end = Math.min(start + F32_BLOCK, values.length);
      if (allFinite(values, start, end)) continue;
      for (let i = start; i < end; i++) {
        const x = bits[i]!;
        if ((x & 0x7f800000) === 0x7f800000) {
          if ((x & 0x007fffff) !== 0) counts.nan++;
          else counts.inf++;
        }
      }
    }
    return true;
  }
  if ((dtype === 'F16' || dtype === 'BF16') && offset % 2 === 0) {
    const [exponent, mantissa] = dtype === 'F16' ? [0x7c00, 0x03ff] : [0x7f80, 0x007f];
    const v = new Uint16Array(chunk.buffer, offset, (to - from) / 2);
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      if ((x & exponent) === exponent) {
        if ((x & mantissa) !== 0) counts.nan++;
        else counts.inf++;
      }
    }
    return true;
  }
  return false;
}

/** NaN and infinite values of a float tensor (integer tensors have none). */
export function countNonFinite(t: TensorData): NonFiniteCount {
  const size = DTYPE_SIZE[t.dtype];
  const counts: NonFiniteCount = { nan: 0, inf: 0, total: t.byteLength / size };
  if (!isFloatDType(t.dtype)) return counts;
  const carry = new Uint8Array(size);
  let carried = 0;
  for (const chunk of t.chunks()) {
    let at = 0;
    if (carried > 0) {
      const take = Math.min(size - carried, chunk.length);
      carry.set(chunk.subarray(0, take), carried);
      carried += take;
      at = take;
      if (carried < size) continue;
      const c = classify(t.dtype, carry, 0);
      if (c === 1) counts.nan++;
      else if (c === 2) counts.inf++;
      carried = 0;
    }
    const end = at + Math.floor((chunk.length - at) / size) * size;
    if (!scanAligned(t.dtype, chunk, at, end, counts)) {
      for (let i = at; i < end; i += size) {
        const c = classify(t.dtype, chunk, i);
        if (c === 1) counts.nan++;
        else if (c === 2) counts.inf++;
      }
    }
    if (end < chunk.length) {
      carry.set(chunk.subarray(end), 0);
      carried = chunk.length - end;
    }
  }
  return counts;
}

/** One tensor with non-finite values, as reports list it. */
export interface NonFiniteTensor {
  /** HF name. */
  tensor: string;
  /** Where it came from in the source. */
  source?: string;
  nan: number;
  inf: number;
  total: number;
}

/** Tensors up to this many bytes in all are scanned by default (every byte is read once more). */
export const DEFAULT_SCAN_LIMIT_BYTES = 1 << 30;

/** The tensors that hold NaN or Inf, in order. */
export function scanNonFinite(tensors: Iterable<[string, TensorData]>, sourceOf?: (name: string) => string | undefined): NonFiniteTensor[] {
  const out: NonFiniteTensor[] = [];
  for (const [name, t] of tensors) {
    const c = countNonFinite(t);
    if (c.nan + c.inf === 0) continue;
    const source = sourceOf?.(name);
    out.push({ tensor: name, ...(source && source !== name ? { source } : {}), ...c });
  }
  return out;
}

export function describeNonFinite(n: NonFiniteTensor): string {
  return `${n.tensor}${n.source ? ` (from ${n.source})` : ''} has ${n.nan} NaN and ${n.inf} infinite value(s) of ${n.total}`;
}
