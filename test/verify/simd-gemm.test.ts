import { afterAll, describe, expect, it } from 'vitest';
import { gemm, gemmScalar } from '../../src/verify/reference/ops.js';
import { setReferenceThreads, simdGemm, stopReferenceThreads } from '../../src/verify/reference/parallel-gemm.js';
import { simdKernelBytes } from '../../src/verify/reference/simd-kernel.js';
import { mulberry32 } from '../../src/prng.js';

function random(n: number, seed: number): Float64Array {
  const next = mulberry32(seed);
  return Float64Array.from({ length: n }, () => next() * 2 - 1);
}

/** Σ_j a[r,j]·w[o,j] + bias[o], in a plain loop: the definition. */
function naive(a: Float64Array, aOff: number, aStride: number, rows: number, w: Float64Array, n: number, len: number, bias: Float64Array | null): Float64Array {
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < n; o++) {
      let s = 0;
      for (let j = 0; j < len; j++) s += a[aOff + r * aStride + j]! * w[o * len + j]!;
      out[r * n + o] = s + (bias ? bias[o]! : 0);
    }
  }
  return out;
}

interface Case {
  rows: number;
  len: number;
  n: number;
  aStride: number;
  aOff: number;
}

const CASES: Case[] = [
  { rows: 49, len: 768, n: 96, aStride: 768, aOff: 0 }, // a Linear
  { rows: 7, len: 65, n: 13, aStride: 65, aOff: 3 }, // odd length: rows zero-padded
  { rows: 5, len: 33, n: 3, aStride: 40, aOff: 1 }, // rows with a gap, fewer outputs than a block
  { rows: 101, len: 96, n: 32, aStride: 64, aOff: 0 }, // conv windows that overlap (kernel 3 × 32 in, stride 2)
  { rows: 1, len: 2048, n: 5, aStride: 2048, aOff: 0 }, // one row
];

afterAll(async () => {
  setReferenceThreads(2);
  await stopReferenceThreads();
});

describe('SIMD float64 matrix product', () => {
  it('is valid WebAssembly with SIMD here (Node ≥ 20)', () => {
    const wasm = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
    expect(wasm.validate(simdKernelBytes(16))).toBe(true);
    expect(wasm.validate(simdKernelBytes(16).subarray(0, 40))).toBe(false);
    expect(simdGemm()).not.toBeNull();
  });

  for (const c of CASES) {
    it(`rows ${c.rows}, len ${c.len}, n ${c.n}, stride ${c.aStride}: equals the definition to float64 rounding, bias and output stride honoured`, () => {
      const a = random(c.aOff + (c.rows - 1) * c.aStride + c.len, 1);
      const w = random(c.n * c.len, 2);
      const bias = random(c.n, 3);
      const outStride = c.n + 2;
      const out = new Float64Array(1 + c.rows * outStride).fill(7);
      expect(simdGemm()!.gemm(a, c.aOff, c.aStride, c.rows, w, c.n, c.len, bias, out, 1, outStride)).toBe(true);
      const expected = naive(a, c.aOff, c.aStride, c.rows, w, c.n, c.len, bias);
      let worst = 0;
      for (let r = 0; r < c.rows; r++) for (let o = 0; o < c.n; o++) worst = Math.max(worst, Math.abs(out[1 + r * outStride + o]! - expected[r * c.n + o]!));
      expect(worst).toBeLessThan(1e-12 * c.len);
      // the padding between output rows is never written
      for (let r = 0; r < c.rows; r++) expect([out[1 + r * outStride + c.n], out[1 + r * outStride + c.n + 1]]).toEqual([7, 7]);
      expect(out[0]).toBe(7);
    });
  }

  it('declines overlapping windows of odd length (the caller runs the scalar kernel)', () => {
    const a = random(100, 4);
    expect(simdGemm()!.gemm(a, 0, 2, 10, random(5 * 9, 5), 5, 9, null, new Float64Array(50), 0, 5)).toBe(false);
    const out = new Float64Array(50);
    gemm(a, 0, 2, 10, random(5 * 9, 5), 5, 9, null, out, 0, 5); // ops.gemm still answers
    expect(out).toEqual(naive(a, 0, 2, 10, random(5 * 9, 5), 5, 9, null));
  });

  it('gives the same bits on 1 and 2 threads, and a row the same bits whatever rows it is batched with', async () => {
    const rows = 64, len = 512, n = 256;
    const a = random(rows * len, 6);
    const w = random(n * len, 7);
    const run = (threads: number, from: number, count: number) => {
      setReferenceThreads(threads);
      const out = new Float64Array(count * n);
      gemm(a, from * len, len, count, w, n, len, null, out, 0, n);
      return out;
    };
    const one = run(1, 0, rows);
    const two = run(2, 0, rows);
    expect(simdGemm()!.workerCount).toBe(1);
    expect(two).toEqual(one);
    expect(run(2, 5, 1)).toEqual(one.subarray(5 * n, 6 * n));
    await stopReferenceThreads();
    expect(simdGemm()!.workerCount).toBe(0);
    expect(run(2, 0, rows)).toEqual(one); // a new pool starts on demand
  });

  it('the scalar kernel agrees too (used below the SIMD size and where WebAssembly SIMD is missing)', () => {
    const c = CASES[1]!;
    const a = random(c.aOff + (c.rows - 1) * c.aStride + c.len, 1);
    const w = random(c.n * c.len, 2);
    const out = new Float64Array(c.rows * c.n);
    gemmScalar(a, c.aOff, c.aStride, c.rows, w, c.n, c.len, null, out, 0, c.n);
    const expected = naive(a, c.aOff, c.aStride, c.rows, w, c.n, c.len, null);
    for (let i = 0; i < out.length; i++) expect(Math.abs(out[i]! - expected[i]!)).toBeLessThan(1e-12 * c.len);
  });
});
