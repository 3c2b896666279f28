/**
 * Symmetric int8 weight quantization for the dynamic-quantized graph: one scale per output column of the MatMul
 * weight (per output feature of the Linear), zero point 0, values in [-127, 127] so the negation of any value fits.
 */

export interface QuantizedMatrix {
  /** [in, out] row-major: the transposed Linear weight, ready for MatMul. */
  readonly values: Int8Array;
  /** [out] */
  readonly scales: Float32Array;
}

/** Quantize a Linear weight given as [out, in] row-major. */
export function quantizeLinearWeight(weight: Float32Array, outFeatures: number, inFeatures: number): QuantizedMatrix {
  const values = new Int8Array(outFeatures * inFeatures);
  const scales = new Float32Array(outFeatures);
  for (let o = 0; o < outFeatures; o++) {
    const row = weight.subarray(o * inFeatures, (o + 1) * inFeatures);
    let max = 0;
    for (const v of row) max = Math.max(max, Math.abs(v));
    const scale = max > 0 ? max / 127 : 1;
    scales[o] = scale;
    const inv = 1 / Math.fround(scale);
    for (let i = 0; i < inFeatures; i++) {
      const q = Math.round(row[i]! * inv);
      values[i * outFeatures + o] = Math.max(-127, Math.min(127, q));
    }
  }
  return { values, scales };
}

/** Dequantized weight (for accuracy checks), [in, out]. */
export function dequantize(q: QuantizedMatrix): Float32Array {
  const out = new Float32Array(q.values.length);
  const cols = q.scales.length;
  for (let i = 0; i < out.length; i++) out[i] = q.values[i]! * q.scales[i % cols]!;
  return out;
}
