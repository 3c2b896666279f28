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
  let maxPair = 0;
  for (let i = 0; i < row.length; i++) {
    const a = Math.abs(row[i]!);
    max = Math.max(max, a);
    if (i % 2 === 0) maxPair = Math.max(maxPair, a + (i + 1 < row.length ? Math.abs(row[i + 1]!) : 0));
  }
  if (max === 0) return 1;
  if (range === 'reduced') return max / 63;
  if (range === 'full') return max / 127;
  return Math.max(max / 127, maxPair / PAIR_SUM_MAX);
}

/** Signed symmetric per-column quantization of a Linear weight given as [out, in] row-major. */
export function quantizeInt8(weight: Float32Array, outFeatures: number, inFeatures: number, range: Int8Range): QuantizedMatrix {
  const values = new Int8Array(outFeatures * inFeatures);
  const scales = new Float32Array(outFeatures);
  const [lo, hi] = range === 'reduced' ? [-64, 63] : [-127, 127];
  for (let o = 0; o < outFeatures; o++) {
    const row = weight.subarray(o * inFeatures, (o + 1) * inFeatures);
    const scale = Math.fround(columnScale(row, range));
    scales[o] = scale;
    for (let i = 0; i < inFeatures; i++) values[i * outFeatures + o] = Math.max(lo, Math.min(hi, Math.round(row[i]! / scale)));
    if (range !== 'pair-safe') continue;
    // rounding can still put a pair at 129: take one step toward zero off the element that rounded away most
    for (let i = 0; i + 1 < inFeatures; i += 2) {
      const a = i * outFeatures + o;
      const b = a + outFeatures;
      if (Math.abs(values[a]!) + Math.abs(values[b]!) <= PAIR_SUM_MAX) continue;
      const overA = Math.abs(values[a]!) - Math.abs(row[i]! / scale);
      const overB = Math.abs(values[b]!) - Math.abs(row[i + 1]! / scale);
      const at = overA >= overB ? a : b;
      values[at] = values[at]! - Math.sign(values[at]!);
    }
  }
  return { values, scales, zeroPoints: null };
}

/** Unsigned asymmetric per-column quantization: w ≈ s·(q − z), the column's [min, max] (with 0) over 0…255. */
export function quantizeUint8(weight: Float32Array, outFeatures: number, inFeatures: number): QuantizedMatrix {
  const values = new Uint8Array(outFeatures * inFeatures);
  const scales = new Float32Array(outFeatures);
  const zeroPoints = new Uint8Array(outFeatures);
  for (let o = 0; o < outFeatures; o++) {
    const row = weight.subarray(o * inFeatures, (o + 1) * inFeatures);
    let min = 0;
    let max = 0;
    for (const v of row) (min = Math.min(min, v)), (max = Math.max(max, v));
    const scale = Math.fround(max > min ? (max - min) / 255 : 1);
    const zero = Math.max(0, Math.min(255, Math.round(-min / scale)));
    scales[o] = scale;
    zeroPoints[o] = zero;
    for (let i = 0; i < inFeatures; i++) values[i * outFeatures + o] = Math.max(0, Math.min(255, Math.round(row[i]! / scale) + zero));
  }
  return { values, scales, zeroPoints };
}
