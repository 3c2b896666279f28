/**
 * 8-bit weight quantization for the dynamically quantized graphs (`com.microsoft.DynamicQuantizeMatMul`: the
 * activations are quantized to uint8 at run time, asymmetric, per tensor; the weights here, one scale per output
 * column of the MatMul weight = per output feature of the Linear).
 *
 * Signed weights (u8·s8, onnxruntime's fast x86 kernel) come in three ranges:
 *   full       q = round(w/s), s = max|w|/127. Exact on CPUs with VNNI (vpdpbusd). On x86 CPUs without VNNI,
 *              onnxruntime adds each pair of uint8×int8 products along K in saturating int16 (vpmaddubsw), and
 *              255·(|q₀|+|q₁|) can pass 32767: results then clip.
 *   pair-safe  like full, but the scale is raised until every such pair (rows 2j, 2j+1 of the [in, out] weight)
 *              has |q₀|+|q₁| ≤ 128, so 255·128 = 32640 fits int16 and no CPU saturates. On random and trained
 *              weights the largest pair sum is well under 2·max|w|, so this keeps most of the 8th bit.
 *   reduced    7 bits (s = max|w|/63): onnxruntime's own "reduce_range" cure for the same problem; half the resolution.
 * Unsigned weights (u8·u8): asymmetric per column with a zero point, never saturate, slower kernel.
 */

import { transposeInto } from './transpose.js';

export type Int8Range = 'full' | 'pair-safe' | 'reduced';

export interface QuantizedMatrix {
  /** [in, out] row-major: the transposed Linear weight, ready for MatMul. Int8Array or Uint8Array. */
  readonly values: Int8Array | Uint8Array;
  /** [out] */
  readonly scales: Float32Array;
  /** [out], unsigned weights only (signed weights are symmetric: zero point 0, not stored) */
  readonly zeroPoints: Uint8Array | null;
}

/** |q₀| + |q₁| bound for one pair of signed weights that a saturating int16 pair sum of uint8×int8 can hold. */
export const PAIR_SUM_MAX = 128;

function columnScale(row: Float32Array, range: Int8Range): number {
  let max = 0;
  for (let i = 0; i < row.length; i++) {
    const a = Math.abs(row[i]!);
    if (a > max) max = a;
  }
  if (max === 0) return 1;
  if (range === 'reduced') return max / 63;
  if (range === 'full') return max / 127;
  let maxPair = 0;
  for (let i = 0; i < row.length; i += 2) maxPair = Math.max(maxPair, Math.abs(row[i]!) + (i + 1 < row.length ? Math.abs(row[i + 1]!) : 0));
  return Math.max(max / 127, maxPair / PAIR_SUM_MAX);
}

/**
 * Math.round (halves toward +∞), 4× faster on this hot path: V8 calls out for Math.round but inlines Math.floor.
 * floor(x + 0.5) is Math.round except where x + 0.5 rounds up to the next integer in float64 (0.49999999999999994);
 * the exact test r − 0.5 > x (r − 0.5 is exact for |r| < 2⁵²) takes that case back down.
 */
export function roundHalfUp(x: number): number {
  const r = Math.floor(x + 0.5);
  return r - 0.5 > x ? r - 1 : r;
}

/** Signed symmetric per-column quantization of a Linear weight given as [out, in] row-major. */
export function quantizeInt8(weight: Float32Array, outFeatures: number, inFeatures: number, range: Int8Range): QuantizedMatrix {
  // quantized row by row in the weight's own layout, then transposed in one cache-friendly pass
  const rowMajor = new Int8Array(outFeatures * inFeatures);
  const scales = new Float32Array(outFeatures);
  const [lo, hi] = range === 'reduced' ? [-64, 63] : [-127, 127];
  for (let o = 0; o < outFeatures; o++) {
    const base = o * inFeatures;
    const row = weight.subarray(base, base + inFeatures);
    const scale = Math.fround(columnScale(row, range));
    scales[o] = scale;
    for (let i = 0; i < inFeatures; i++) {
      const q = roundHalfUp(row[i]! / scale);
      rowMajor[base + i] = q < lo ? lo : q > hi ? hi : q;
    }
    if (range !== 'pair-safe') continue;
    // rounding can still put a pair at 129: take one step toward zero off the element that rounded away most
    for (let i = 0; i + 1 < inFeatures; i += 2) {
      const a = base + i;
      const b = a + 1;
      if (Math.abs(rowMajor[a]!) + Math.abs(rowMajor[b]!) <= PAIR_SUM_MAX) continue;
      const overA = Math.abs(rowMajor[a]!) - Math.abs(row[i]! / scale);
      const overB = Math.abs(rowMajor[b]!) - Math.abs(row[i + 1]! / scale);
      const at = overA >= overB ? a : b;
      rowMajor[at] = rowMajor[at]! - Math.sign(rowMajor[at]!);
    }
  }
  return { values: transposeInto(rowMajor, outFeatures, inFeatures, new Int8Array(rowMajor.length)), scales, zeroPoints: null };
}

/** Unsigned asymmetric per-column quantization: w ≈ s·(q − z), the column's [min, max] (with 0) over 0…255. */
export function quantizeUint8(weight: Float32Array, outFeatures: number, inFeatures: number): QuantizedMatrix {
  const rowMajor = new Uint8Array(outFeatures * inFeatures);
  const scales = new Float32Array(outFeatures);
  const zeroPoints = new Uint8Array(outFeatures);
  for (let o = 0; o < outFeatures; o++) {
    const base = o * inFeatures;
    const row = weight.subarray(base, base + inFeatures);
    let min = 0;
    let max = 0;
    for (const v of row) (min = Math.min(min, v)), (max = Math.max(max, v));
    const scale = Math.fround(max > min ? (max - min) / 255 : 1);
    const zero = Math.max(0, Math.min(255, Math.round(-min / scale)));
    scales[o] = scale;
    zeroPoints[o] = zero;
    for (let i = 0; i < inFeatures; i++) {
      const q = roundHalfUp(row[i]! / scale) + zero;
      rowMajor[base + i] = q < 0 ? 0 : q > 255 ? 255 : q;
    }
  }
  return { values: transposeInto(rowMajor, outFeatures, inFeatures, new Uint8Array(rowMajor.length)), scales, zeroPoints };
}
