/**
 * Int8 weight quantization for the dynamic-quantized graph: symmetric, one scale per output column of the MatMul
 * weight (per output feature of the Linear), zero point 0, values in [-64, 63] ("reduce range", 7 bits).
 * Why 7 bits: onnxruntime's x64 u8·s8 kernel (AVX2 without VNNI) adds pairs of uint8×int8 products in saturating
 * int16; with full-range int8 weights 2·255·127 overflows and accuracy collapses (cosine 0.96 on our fixtures), with
 * 7-bit weights 2·255·64 fits. u8·s8 is the fast kernel; uint8 weights (u8·u8) are exact but slower.
 */

export interface QuantizedMatrix {
  /** [in, out] row-major: the transposed Linear weight, ready for MatMul. */
  readonly values: Int8Array;
  /** [out] */
  readonly scales: Float32Array;
}

export const QMAX = 63;

/** Quantize a Linear weight given as [out, in] row-major. */
export function quantizeLinearWeight(weight: Float32Array, outFeatures: number, inFeatures: number): QuantizedMatrix {
  const values = new Int8Array(outFeatures * inFeatures);
  const scales = new Float32Array(outFeatures);
  for (let o = 0; o < outFeatures; o++) {
    const row = weight.subarray(o * inFeatures, (o + 1) * inFeatures);
    let max = 0;
    for (const v of row) max = Math.max(max, Math.abs(v));
    const scale = Math.fround(max > 0 ? max / QMAX : 1);
    scales[o] = scale;
    for (let i = 0; i < inFeatures; i++) values[i * outFeatures + o] = Math.max(-QMAX - 1, Math.min(QMAX, Math.round(row[i]! / scale)));
  }
  return { values, scales };
}
