// The fast paths of the ONNX weight writer (blocked transpose, fp16 encoding, rounding) against the plain
// definitions they replace: bit for bit, on the shapes and values where tiling and rounding go wrong.
import { describe, expect, it } from 'vitest';
import { float32ToFloat16Bits } from '../../src/dtype.js';
import { mulberry32 } from '../../src/prng.js';
import { float32ToHalfBits } from '../../src/writers/onnx/fp16.js';
import { PAIR_SUM_MAX, quantizeInt8, quantizeUint8, roundHalfUp } from '../../src/writers/onnx/quantize.js';
import { transposeInto } from '../../src/writers/onnx/transpose.js';

function naiveTranspose<T extends Uint32Array | Uint16Array | Int8Array>(src: T, rows: number, cols: number, dst: T): T {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c]!;
  return dst;
}

describe('transposeInto', () => {
  const shapes: [number, number][] = [[1, 1], [1, 7], [7, 1], [3, 5], [64, 64], [67, 130], [130, 67], [256, 65], [5, 257]];
  it.each(shapes)('%i × %i equals the element loop for 32-, 16- and 8-bit elements', (rows, cols) => {
    const rand = mulberry32(rows * 1000 + cols);
    const u32 = Uint32Array.from({ length: rows * cols }, () => Math.floor(rand() * 2 ** 32));
    expect(transposeInto(u32, rows, cols, new Uint32Array(u32.length))).toEqual(naiveTranspose(u32, rows, cols, new Uint32Array(u32.length)));
    const u16 = Uint16Array.from(u32, (v) => v & 0xffff);
    expect(transposeInto(u16, rows, cols, new Uint16Array(u16.length))).toEqual(naiveTranspose(u16, rows, cols, new Uint16Array(u16.length)));
    const i8 = Int8Array.from(u32, (v) => (v & 0xff) - 128);
    expect(transposeInto(i8, rows, cols, new Int8Array(i8.length))).toEqual(naiveTranspose(i8, rows, cols, new Int8Array(i8.length)));
  });
  it('moves float bits unchanged (signalling NaN payloads included)', () => {
    const bits = Uint32Array.from([0x7f800001, 0xffbfffff, 0x00000001, 0x80000000, 0x7fc00000, 0x3f800000]);
    expect(Array.from(transposeInto(bits, 2, 3, new Uint32Array(6)))).toEqual([0x7f800001, 0x80000000, 0xffbfffff, 0x7fc00000, 0x00000001, 0x3f800000]);
  });
  it('refuses buffers that do not hold rows × cols elements', () => {
    expect(() => transposeInto(new Uint16Array(6), 2, 4, new Uint16Array(8))).toThrow(/6 → 8 elements for 2 × 4/);
  });
});

describe('float32ToHalfBits', () => {
  it('equals float32ToFloat16Bits at every exponent, both signs, on rounding boundaries and random mantissas', () => {
    const rand = mulberry32(16);
    const mantissas = [0, 1, 0x7ff, 0xfff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000, 0x5000, 0x7fe000, 0x7fefff, 0x7ff000, 0x7fffff];
    for (let i = 0; i < 60; i++) mantissas.push(Math.floor(rand() * 0x800000));
    const bits: number[] = [];
    for (let sign = 0; sign < 2; sign++) for (let exp = 0; exp < 256; exp++) for (const m of mantissas) bits.push(((sign << 31) | (exp << 23) | m) >>> 0);
    const values = new Float32Array(Uint32Array.from(bits).buffer);
    const fast = float32ToHalfBits(values);
    const slow = Uint16Array.from(values, (v) => float32ToFloat16Bits(v));
    const mismatches = bits.filter((_, i) => fast[i] !== slow[i]).map((b) => b.toString(16));
    expect(mismatches).toEqual([]);
    expect(bits.length).toBe(2 * 256 * mantissas.length);
  });
  it('rounds 65504 + half an ulp to infinity and the largest subnormal boundary like torch', () => {
    const f = Float32Array.from([65504, 65519.99, 65520, -65520, 6.103515625e-5, 6.0975552e-5, 2.9802322e-8, 5.9604645e-8]);
    expect(Array.from(float32ToHalfBits(f), (h) => h.toString(16))).toEqual(['7bff', '7bff', '7c00', 'fc00', '400', '3ff', '0', '1']);
  });
});

describe('roundHalfUp', () => {
  it('is Math.round on halves, their float64 neighbours and random values', () => {
    const xs = [0.49999999999999994, -0.49999999999999994, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 126.5, -126.5, 127.49999999999999, -127.5, 0, -0, 1e-300];
    for (let k = -130; k <= 130; k++) for (const d of [-1e-13, 0, 1e-13]) xs.push(k + 0.5 + d);
    const rand = mulberry32(5);
    for (let i = 0; i < 20000; i++) xs.push((rand() * 2 - 1) * 300);
    const wrong = xs.filter((x) => roundHalfUp(x) !== Math.round(x) && !(roundHalfUp(x) === 0 && Math.round(x) === 0));
    expect(wrong).toEqual([]);
  });
});

describe('8-bit quantizers against their definitions', () => {
  // the element-by-element definitions, with Math.round, written straight into the [in, out] layout
  function referenceInt8(w: Float32Array, outF: number, inF: number, range: 'full' | 'reduced' | 'pair-safe') {
    const values = new Int8Array(outF * inF);
    const scales = new Float32Array(outF);
    for (let o = 0; o < outF; o++) {
      const row = w.subarray(o * inF, (o + 1) * inF);
      let max = 0;
      let pair = 0;
      for (let i = 0; i < inF; i++) max = Math.max(max, Math.abs(row[i]!));
      for (let i = 0; i < inF; i += 2) pair = Math.max(pair, Math.abs(row[i]!) + (i + 1 < inF ? Math.abs(row[i + 1]!) : 0));
      const s = Math.fround(max === 0 ? 1 : range === 'reduced' ? max / 63 : range === 'full' ? max / 127 : Math.max(max / 127, pair / PAIR_SUM_MAX));
      scales[o] = s;
      const [lo, hi] = range === 'reduced' ? [-64, 63] : [-127, 127];
      for (let i = 0; i < inF; i++) values[i * outF + o] = Math.max(lo, Math.min(hi, Math.round(row[i]! / s)));
      if (range !== 'pair-safe') continue;
      for (let i = 0; i + 1 < inF; i += 2) {
        const a = i * outF + o;
        const b = a + outF;
        if (Math.abs(values[a]!) + Math.abs(values[b]!) <= PAIR_SUM_MAX) continue;
        const at = Math.abs(values[a]!) - Math.abs(row[i]! / s) >= Math.abs(values[b]!) - Math.abs(row[i + 1]! / s) ? a : b;
        values[at] = values[at]! - Math.sign(values[at]!);
      }
    }
    return { values, scales };
  }
  // weights with exact halves: multiples of max/254 land on q + 0.5 after the division
  function weights(outF: number, inF: number, seed: number): Float32Array {
    const rand = mulberry32(seed);
    const w = Float32Array.from({ length: outF * inF }, () => (rand() * 2 - 1) * 0.05);
    for (let o = 0; o < outF; o++) {
      w[o * inF] = 0.0635; // the column maximum
      for (let i = 1; i < inF; i += 7) w[o * inF + i] = (0.0635 / 254) * (2 * Math.floor(rand() * 100) - 99);
    }
    w.fill(0, 0, inF); // an all-zero column
    return w;
  }
  it.each(['full', 'reduced', 'pair-safe'] as const)('int8 %s: values and scales bit for bit', (range) => {
    for (const [outF, inF] of [[70, 129], [5, 64], [130, 3]] as const) {
      const w = weights(outF, inF, outF + inF);
      const q = quantizeInt8(w, outF, inF, range);
      const ref = referenceInt8(w, outF, inF, range);
      expect(q.scales).toEqual(ref.scales);
      expect(Buffer.from(q.values.buffer).equals(Buffer.from(ref.values.buffer))).toBe(true);
    }
  });
  it('uint8: values, scales and zero points bit for bit', () => {
    const [outF, inF] = [70, 129];
    const w = weights(outF, inF, 9);
    const q = quantizeUint8(w, outF, inF);
    for (let o = 0; o < outF; o++) {
      const row = w.subarray(o * inF, (o + 1) * inF);
      const min = Math.min(0, ...row);
      const max = Math.max(0, ...row);
      const s = Math.fround(max > min ? (max - min) / 255 : 1);
      const z = Math.max(0, Math.min(255, Math.round(-min / s)));
      expect([q.scales[o], q.zeroPoints![o]]).toEqual([s, z]);
      for (let i = 0; i < inF; i++) expect(q.values[i * outF + o]).toBe(Math.max(0, Math.min(255, Math.round(row[i]! / s) + z)));
    }
  });
});
