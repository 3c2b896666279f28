/** float32 values → IEEE half bytes (round to nearest even, as torch's `.half()`), for fp16 initializers. */
import { float32ToFloat16Bits } from '../../dtype.js';

export function float32ToHalfBytes(values: Float32Array | Float64Array): Uint8Array {
  const out = new Uint16Array(values.length);
  // float64 inputs round to float32 first, as every float32 → float16 cast in the pipeline does
  const f32 = values instanceof Float32Array ? values : Float32Array.from(values);
  for (let i = 0; i < f32.length; i++) out[i] = float32ToFloat16Bits(f32[i]!);
  return new Uint8Array(out.buffer);
}

export function float32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}
