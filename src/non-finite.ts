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

/** Counts NaN and ±Inf in one tensor's bytes fed in order, in pieces of any size (elements split across pieces carry). */
class NonFiniteCounter {
  private readonly size: number;
  private readonly float: boolean;
  private readonly carry: Uint8Array;
  private carried = 0;
  counts!: NonFiniteCount;
  /** bytes fed since the last reset */
  fed = 0;

  constructor(private readonly t: TensorData) {
    this.size = DTYPE_SIZE[t.dtype];
    this.float = isFloatDType(t.dtype);
    this.carry = new Uint8Array(this.size);
    this.reset();
  }
  reset(): void {
    this.counts = { nan: 0, inf: 0, total: this.t.byteLength / this.size };
    this.carried = 0;
    this.fed = 0;
  }
  feed(chunk: Uint8Array): void {
    this.fed += chunk.byteLength;
    if (!this.float) return;
    const { size, counts, carry } = this;
    const dtype = this.t.dtype;
    let at = 0;
    if (this.carried > 0) {
      const take = Math.min(size - this.carried, chunk.length);
      carry.set(chunk.subarray(0, take), this.carried);
      this.carried += take;
      at = take;
      if (this.carried < size) return;
      const c = classify(dtype, carry, 0);
      if (c === 1) counts.nan++;
      else if (c === 2) counts.inf++;
      this.carried = 0;
    }
    const end = at + Math.floor((chunk.length - at) / size) * size;
    if (!scanAligned(dtype, chunk, at, end, counts)) {
      for (let i = at; i < end; i += size) {
        const c = classify(dtype, chunk, i);
        if (c === 1) counts.nan++;
        else if (c === 2) counts.inf++;
      }
    }
    if (end < chunk.length) {
      carry.set(chunk.subarray(end), 0);
      this.carried = chunk.length - end;
    }
  }
}

/** NaN and infinite values of a float tensor (integer tensors have none). */
export function countNonFinite(t: TensorData): NonFiniteCount {
  const counter = new NonFiniteCounter(t);
  for (const chunk of t.chunks()) counter.feed(chunk);
  return counter.counts;
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

/** inspect scans tensors up to this many bytes in all by default (there every byte is read once more). */
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

/**
 * Counting as the tensors are written instead of in a pass of its own (convert): each watched tensor counts its
 * values as its bytes go by — through chunks(), bytes() or the writer's readInto() pieces, in order — so no byte is
 * read a second time for the scan (base: 0.22 s of a 0.6 s conversion) and no size limit is needed.
 */
export interface NonFiniteWatch {
  /** the tensors, each wrapped to count what is read of it */
  readonly tensors: ReadonlyMap<string, TensorData>;
  /**
   * After writing: the tensors holding NaN or Inf, in order. A tensor that was not read through once, in order
   * (never written, or read in pieces out of order), is scanned here.
   */
  results(): NonFiniteTensor[];
}

export function watchNonFinite(tensors: Iterable<[string, TensorData]>, sourceOf?: (name: string) => string | undefined): NonFiniteWatch {
  const entries = [...tensors].map(([name, t]) => {
    const counter = new NonFiniteCounter(t);
    // the next byte offset readInto() must see to keep counting; -1 once the pieces came out of order
    let next = 0;
    // once every byte has been counted the counts are final: later reads (the ONNX builder's) pass straight through
    const counted = () => counter.fed === t.byteLength;
    const wrapped: TensorData = {
      dtype: t.dtype,
      shape: t.shape,
      byteLength: t.byteLength,
      bytes() {
        const all = t.bytes();
        if (!counted()) {
          counter.reset();
          counter.feed(all);
        }
        return all;
      },
      *chunks(maxBytes?: number) {
        if (counted()) return yield* t.chunks(maxBytes);
        counter.reset();
        next = -1;
        for (const chunk of t.chunks(maxBytes)) {
          counter.feed(chunk);
          yield chunk;
        }
      },
      ...(t.readInto
        ? {
            readInto(offset: number, into: Uint8Array): boolean {
              if (!t.readInto!(offset, into)) return false;
              if (counted()) return true;
              if (offset === 0) {
                counter.reset();
                next = 0;
              }
              if (offset !== next) next = -1;
              else {
                counter.feed(into);
                next += into.byteLength;
              }
              return true;
            },
          }
        : {}),
    };
    return { name, t, counter, wrapped };
  });
  return {
    tensors: new Map(entries.map((e) => [e.name, e.wrapped])),
    results() {
      const out: NonFiniteTensor[] = [];
      for (const { name, t, counter } of entries) {
        const c = counter.fed === t.byteLength ? counter.counts : countNonFinite(t);
        if (c.nan + c.inf === 0) continue;
        const source = sourceOf?.(name);
        out.push({ tensor: name, ...(source && source !== name ? { source } : {}), ...c });
      }
      return out;
    },
  };
}

export function describeNonFinite(n: NonFiniteTensor): string {
  return `${n.tensor}${n.source ? ` (from ${n.source})` : ''} has ${n.nan} NaN and ${n.inf} infinite value(s) of ${n.total}`;
}
