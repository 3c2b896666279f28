/**
 * 4-bit block-wise weight quantization for the two onnxruntime contrib ops transformers.js's 4-bit dtypes use.
 * Both take the Linear weight as stored by torch, [out, in] row-major (= the MatMul weight transposed, [N, K]).
 *
 * MatMulNBits (q4, q4f16): blocks of `blockSize` consecutive K values per output column; symmetric with the implicit
 *   zero point 8: w ≈ s·(q − 8). The block's largest-magnitude value m maps to q = 0 exactly (s = m/−8), which uses
 *   all 16 levels. B is [N, ⌈K/blockSize⌉, blockSize/2] bytes, two values per byte, the first in the low nibble;
 *   scales are [N·⌈K/blockSize⌉]. K is zero-padded to whole blocks.
 * MatMulBnb4 (bnb4): the [N, K] weight flattened into blocks of `blockSize` values (blocks may cross rows), each value
 *   the nearest of 16 fixed codes times the block's absmax. NF4 codes are the bitsandbytes NormalFloat levels
 *   (quantiles of a standard normal, scaled to [−1, 1]); two values per byte, the first in the high nibble.
 */

import { roundHalfUp } from './quantize.js';

export interface NBitsMatrix {
  readonly packed: Uint8Array;
  readonly scales: Float32Array;
  readonly blocksPerColumn: number;
}

export interface Bnb4Matrix {
  readonly packed: Uint8Array;
  readonly absmax: Float32Array;
}

export const Q4_BLOCK_SIZE = 32;
export const BNB4_BLOCK_SIZE = 64;
/** MatMulBnb4's quant_type attribute. */
export const BNB4_QUANT_TYPE = { fp4: 0, nf4: 1 } as const;

/** The 16 NF4 levels (bitsandbytes), in code order 0…15. */
export const NF4_CODES: readonly number[] = [
  -1, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1,
];

/** Symmetric 4-bit quantization of a Linear weight [out, in] for MatMulNBits. */
export function quantizeNBits4(weight: Float32Array, outFeatures: number, inFeatures: number, blockSize = Q4_BLOCK_SIZE): NBitsMatrix {
  const blocks = Math.ceil(inFeatures / blockSize);
  const blob = blockSize / 2;
  const packed = new Uint8Array(outFeatures * blocks * blob).fill(0x88); // padding: q = 8 (zero)
  const scales = new Float32Array(outFeatures * blocks);
  for (let o = 0; o < outFeatures; o++) {
    for (let b = 0; b < blocks; b++) {
      const start = o * inFeatures + b * blockSize;
      const end = o * inFeatures + Math.min(inFeatures, (b + 1) * blockSize);
      let extreme = 0;
      for (let i = start; i < end; i++) if (Math.abs(weight[i]!) > Math.abs(extreme)) extreme = weight[i]!;
      const scale = Math.fround(extreme === 0 ? 1 : extreme / -8);
      scales[o * blocks + b] = scale;
      const at = (o * blocks + b) * blob;
      for (let i = start; i < end; i++) {
        const j = i - start;
        const q = Math.max(0, Math.min(15, roundHalfUp(weight[i]! / scale) + 8));
        const byte = at + (j >> 1);
        packed[byte] = j & 1 ? (packed[byte]! & 0x0f) | (q << 4) : (packed[byte]! & 0xf0) | q;
      }
    }
  }
  return { packed, scales, blocksPerColumn: blocks };
}

function nearestCode(x: number, codes: readonly number[]): number {
  // codes ascend: the nearest is at the first midpoint above x
  for (let c = 0; c < codes.length - 1; c++) if (x < (codes[c]! + codes[c + 1]!) / 2) return c;
  return codes.length - 1;
}

/** NF4 quantization of a Linear weight [out, in] for MatMulBnb4. */
export function quantizeBnb4(weight: Float32Array, blockSize = BNB4_BLOCK_SIZE): Bnb4Matrix {
  const n = weight.length;
  const blocks = Math.ceil(n / blockSize);
  const packed = new Uint8Array(Math.ceil(n / 2));
  const absmax = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    const start = b * blockSize;
    const end = Math.min(n, start + blockSize);
    let max = 0;
    for (let i = start; i < end; i++) max = Math.max(max, Math.abs(weight[i]!));
    absmax[b] = max;
    const inv = max > 0 ? 1 / max : 0;
    for (let i = start; i < end; i++) {
      const q = nearestCode(weight[i]! * inv, NF4_CODES);
      packed[i >> 1] = i & 1 ? (packed[i >> 1]! & 0xf0) | q : (packed[i >> 1]! & 0x0f) | (q << 4);
    }
  }
  if (n % 2) packed[n >> 1] = (packed[n >> 1]! & 0xf0) | nearestCode(0, NF4_CODES); // a lone last value: pad with zero
  return { packed, absmax };
}

/** w ≈ s·(q − 8): the float weight [out, in] a MatMulNBits matrix stands for (tests and accuracy studies). */
export function dequantizeNBits4(m: NBitsMatrix, outFeatures: number, inFeatures: number, blockSize = Q4_BLOCK_SIZE): Float32Array {
  const out = new Float32Array(outFeatures * inFeatures);
  for (let o = 0; o < outFeatures; o++) {
    for (let i = 0; i < inFeatures; i++) {
      const b = Math.floor(i / blockSize);
      const j = i % blockSize;
      const byte = m.packed[(o * m.blocksPerColumn + b) * (blockSize / 2) + (j >> 1)]!;
      out[o * inFeatures + i] = Math.fround(((j & 1 ? byte >> 4 : byte & 0x0f) - 8) * m.scales[o * m.blocksPerColumn + b]!);
    }
  }
  return out;
}

/** The float weight a MatMulBnb4 matrix stands for. */
export function dequantizeBnb4(m: Bnb4Matrix, n: number, blockSize = BNB4_BLOCK_SIZE): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const byte = m.packed[i >> 1]!;
    out[i] = Math.fround(NF4_CODES[i & 1 ? byte & 0x0f : byte >> 4]! * m.absmax[Math.floor(i / blockSize)]!);
  }
  return out;
}
