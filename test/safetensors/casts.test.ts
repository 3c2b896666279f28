import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { DType } from '../../src/dtype.js';
import { readSafetensors } from '../../src/readers/disk-safetensors.js';
import { castTensor } from '../../src/tensor.js';
import { writeSafetensors } from '../../src/writers/disk-safetensors.js';
import { DATA_DIR, hex, useTempDir } from './helpers.js';

const tempDir = useTempDir();

/**
 * The elements that differ, as "index: got≠want" (empty when equal). Every non-NaN must match bit for bit. For NaN
 * only NaN-ness is compared: the NaN bits torch produces depend on the CPU code path and even on the tensor size
 * (on AVX2, f32→bf16 gives 0xFFFF, a 1-element f64→bf16 gives 0x7FC0, f16→f32 gives 0x7FFFFFFF), so no fixed rule
 * can match them all.
 */
function differences(got: Uint8Array, want: Uint8Array, to: DType, itemSize: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < want.byteLength; i += itemSize) {
    const g = got.subarray(i, i + itemSize);
    const w = want.subarray(i, i + itemSize);
    if (hex(g) === hex(w) || (isNaNOf(w, to) && isNaNOf(g, to))) continue;
    out.push(`${i / itemSize}: ${hex(g)}≠${hex(w)}`);
  }
  return out;
}

function isNaNOf(bytes: Uint8Array, dtype: DType): boolean {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F64': return Number.isNaN(v.getFloat64(0, true));
    case 'F32': return Number.isNaN(v.getFloat32(0, true));
    case 'F16': return (v.getUint16(0, true) & 0x7fff) > 0x7c00;
    case 'BF16': return (v.getUint16(0, true) & 0x7fff) > 0x7f80;
    default: return false;
  }
}

// casts.safetensors (data/make.py) holds each source and torch's own .half() / .bfloat16() / .float() / .double() of it
const CASES: Array<[string, string, DType, number]> = [
  ['f32', 'f32.to_f16', 'F16', 2],
  ['f32', 'f32.to_bf16', 'BF16', 2],
  ['f32', 'f32.to_f64', 'F64', 8],
  ['nan_payload.f32', 'nan_payload.to_f16', 'F16', 2],
  ['nan_payload.f32', 'nan_payload.to_bf16', 'BF16', 2],
  ['f64', 'f64.to_f32', 'F32', 4],
  ['f64', 'f64.to_f16', 'F16', 2],
  ['f64', 'f64.to_bf16', 'BF16', 2],
  ['f16', 'f16.to_f32', 'F32', 4],
  ['f16', 'f16.to_bf16', 'BF16', 2],
  ['f16', 'f16.to_f64', 'F64', 8],
  ['bf16', 'bf16.to_f32', 'F32', 4],
  ['bf16', 'bf16.to_f16', 'F16', 2],
];

describe('castTensor written through the safetensors writer equals torch bit for bit', () => {
  const file = readSafetensors(join(DATA_DIR, 'casts.safetensors'));
  for (const [from, expected, to, itemSize] of CASES) {
    test(`${from} → ${to} (${expected})`, () => {
      const path = join(tempDir(), 'cast.safetensors');
      writeSafetensors(path, [['t', castTensor(file.tensors.get(from)!, to)]]);
      const back = readSafetensors(path);
      const got = back.tensors.get('t')!;
      const want = file.tensors.get(expected)!;
      expect([got.dtype, got.shape]).toEqual([want.dtype, want.shape]);
      expect(differences(got.bytes(), want.bytes(), to, itemSize)).toEqual([]);
      back.close();
    });
  }
});
