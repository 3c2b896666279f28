/** float32 values → IEEE half bytes (round to nearest even, as torch's `.half()`), for fp16 initializers. */
import { float32ToFloat16Bits } from '../../dtype.js';

export function float32ToHalfBytes(values: Float32Array | Float64Array): Uint8Array {
  // float64 inputs round to float32 first, as every float32 → float16 cast in the pipeline does
  const f32 = values instanceof Float32Array ? values : Float32Array.from(values);
  return new Uint8Array(float32ToHalfBits(f32).buffer);
}

/**
 * The half bits of every value. Values whose half is normal (|x| in [2⁻¹⁴, 65536)) take one integer expression: the
 * rebiased exponent and mantissa shifted down with round-half-to-even (a carry into the exponent, or to infinity at
 * 65520, is the right encoding); the rest — subnormal, zero, overflow, Inf, NaN — take float32ToFloat16Bits. Equal to
 * it on all 2³² inputs (checked exhaustively); about 3× faster on weights.
 */
export function float32ToHalfBits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]!;
    const ax = x & 0x7fffffff;
    out[i] = ax >= 0x38800000 && ax < 0x47800000 ? ((x >>> 16) & 0x8000) | ((ax - 0x38000000 + 0xfff + ((ax >>> 13) & 1)) >>> 13) : float32ToFloat16Bits(values[i]!);
  }
  return out;
}

export function float32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}
