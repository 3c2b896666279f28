/**
 * float64 building blocks of the reference forward. Activations are time-major ([frames, channels], row-major), so a
 * Conv1d over time is a matrix product whose input "rows" are overlapping contiguous slices: no im2col copy needed.
 */

import { simdGemm } from './parallel-gemm.js';

const BLOCK = new Float64Array(16);

/**
 * Weights of at least this many elements (n·len) go to the SIMD kernel (parallel-gemm.ts); smaller ones are not worth
 * the copies. The choice never depends on the number of rows, so a row's result is the same bits whatever it is
 * batched with (the two kernels sum in different orders).
 */
const SIMD_MIN_WEIGHTS = 2048;

/**
 * out[outOff + r·outStride + o] = bias[o] + Σ_j a[aOff + r·aStride + j] · w[o·len + j]
 * for r < rows, o < n. `w` is row-major [n, len] (a Linear weight, or a conv weight laid out [out][k][in]).
 * Large products run on the SIMD kernel over every core; the rest (and everything where WebAssembly SIMD is missing)
 * on the scalar kernel below.
 */
export function gemm(
  a: Float64Array,
  aOff: number,
  aStride: number,
  rows: number,
  w: Float64Array,
  n: number,
  len: number,
  bias: Float64Array | null,
  out: Float64Array,
  outOff: number,
  outStride: number,
): void {
  if (n * len >= SIMD_MIN_WEIGHTS && simdGemm()?.gemm(a, aOff, aStride, rows, w, n, len, bias, out, outOff, outStride)) return;
  gemmScalar(a, aOff, aStride, rows, w, n, len, bias, out, outOff, outStride);
}

/**
 * gemm in plain JS. 4×4 register blocks: each pass over j touches 4 rows of `a` and 4 rows of `w`; edge blocks repeat
 * the last valid row and discard the duplicate results.
 */
export function gemmScalar(
  a: Float64Array,
  aOff: number,
  aStride: number,
  rows: number,
  w: Float64Array,
  n: number,
  len: number,
  bias: Float64Array | null,
  out: Float64Array,
  outOff: number,
  outStride: number,
): void {
  for (let o = 0; o < n; o += 4) {
    const w0 = o * len;
    const w1 = Math.min(o + 1, n - 1) * len;
    const w2 = Math.min(o + 2, n - 1) * len;
    const w3 = Math.min(o + 3, n - 1) * len;
    for (let r = 0; r < rows; r += 4) {
      const a0 = aOff + r * aStride;
      const a1 = aOff + Math.min(r + 1, rows - 1) * aStride;
      const a2 = aOff + Math.min(r + 2, rows - 1) * aStride;
      const a3 = aOff + Math.min(r + 3, rows - 1) * aStride;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0;
      let s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0;
      let s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let j = 0; j < len; j++) {
        const x0 = a[a0 + j]!, x1 = a[a1 + j]!, x2 = a[a2 + j]!, x3 = a[a3 + j]!;
        const y0 = w[w0 + j]!, y1 = w[w1 + j]!, y2 = w[w2 + j]!, y3 = w[w3 + j]!;
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
        s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
      }
      const sums = BLOCK;
      sums[0] = s00; sums[1] = s01; sums[2] = s02; sums[3] = s03;
      sums[4] = s10; sums[5] = s11; sums[6] = s12; sums[7] = s13;
      sums[8] = s20; sums[9] = s21; sums[10] = s22; sums[11] = s23;
      sums[12] = s30; sums[13] = s31; sums[14] = s32; sums[15] = s33;
      for (let i = 0; i < 4 && r + i < rows; i++) {
        for (let k = 0; k < 4 && o + k < n; k++) {
          out[outOff + (r + i) * outStride + o + k] = sums[i * 4 + k]! + (bias ? bias[o + k]! : 0);
        }
      }
    }
  }
}

/** y = x·Wᵀ + b for x [rows, in], W [out, in] → new [rows, out]. */
export function linear(x: Float64Array, rows: number, inDim: number, weight: Float64Array, bias: Float64Array | null, outDim: number): Float64Array {
  const out = new Float64Array(rows * outDim);
  gemm(x, 0, inDim, rows, weight, outDim, inDim, bias, out, 0, outDim);
  return out;
}

/** LayerNorm over the last dim of [rows, dim], in place (biased variance, as torch). */
export function layerNormRows(x: Float64Array, rows: number, dim: number, gamma: Float64Array, beta: Float64Array, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const at = r * dim;
    let mean = 0;
    for (let c = 0; c < dim; c++) mean += x[at + c]!;
    mean /= dim;
    let variance = 0;
    for (let c = 0; c < dim; c++) {
      const d = x[at + c]! - mean;
      variance += d * d;
    }
    const inv = 1 / Math.sqrt(variance / dim + eps);
    for (let c = 0; c < dim; c++) x[at + c] = (x[at + c]! - mean) * inv * gamma[c]! + beta[c]!;
  }
}

/** GroupNorm with one group per channel on time-major [frames, channels]: each channel normalised over time, in place. */
export function channelNormOverTime(x: Float64Array, frames: number, channels: number, gamma: Float64Array, beta: Float64Array, eps: number): void {
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  for (let t = 0; t < frames; t++) for (let c = 0; c < channels; c++) mean[c]! += x[t * channels + c]!;
  for (let c = 0; c < channels; c++) mean[c]! /= frames;
  for (let t = 0; t < frames; t++) {
    for (let c = 0; c < channels; c++) {
      const d = x[t * channels + c]! - mean[c]!;
      variance[c]! += d * d;
    }
  }
  const scale = new Float64Array(channels);
  for (let c = 0; c < channels; c++) scale[c] = gamma[c]! / Math.sqrt(variance[c]! / frames + eps);
  for (let t = 0; t < frames; t++) {
    for (let c = 0; c < channels; c++) {
      const i = t * channels + c;
      x[i] = (x[i]! - mean[c]!) * scale[c]! + beta[c]!;
    }
  }
}

export function addInPlace(x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) x[i]! += y[i]!;
}

/** Softmax over the first `valid` entries of a row; the rest (masked keys) get probability 0. */
export function softmaxPrefix(x: Float64Array, at: number, length: number, valid: number): void {
  let max = -Infinity;
  for (let i = 0; i < valid; i++) if (x[at + i]! > max) max = x[at + i]!;
  let sum = 0;
  for (let i = 0; i < valid; i++) {
    const e = Math.exp(x[at + i]! - max);
    x[at + i] = e;
    sum += e;
  }
  for (let i = 0; i < valid; i++) x[at + i]! /= sum;
  for (let i = valid; i < length; i++) x[at + i] = 0;
}

/** softmax of a whole vector (layer weights). */
export function softmax(values: Float64Array): Float64Array {
  const out = new Float64Array(values);
  softmaxPrefix(out, 0, out.length, out.length);
  return out;
}
