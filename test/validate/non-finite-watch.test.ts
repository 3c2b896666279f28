// NaN/Inf counted while the writer reads the tensors (watchNonFinite): every way a writer reads a tensor gives the
// counts a separate scan gives, a tensor read partly or out of order is scanned at the end, and a conversion scans
// what it writes at no second read.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { countNonFinite, watchNonFinite } from '../../src/non-finite.js';
import { MemoryTensor, type TensorData } from '../../src/tensor.js';
import { writeSafetensorsAsync } from '../../src/writers/disk-safetensors.js';
import { float32ToFloat16Bits } from '../../src/dtype.js';

const root = mkdtempSync(join(tmpdir(), 'nonfinite-watch-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function poisoned(n: number, nan: number[], inf: number[]): Float32Array {
  const v = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
  for (const i of nan) v[i] = NaN;
  for (const i of inf) v[i] = i % 2 ? -Infinity : Infinity;
  return v;
}

/** A tensor that counts its reads and can, like a file-backed one, read straight into a buffer. */
function fileLike(t: MemoryTensor): TensorData & { reads: number } {
  const all = t.bytes();
  const out = {
    dtype: t.dtype,
    shape: t.shape,
    byteLength: t.byteLength,
    reads: 0,
    bytes: () => (out.reads++, all),
    chunks: (max?: number) => (out.reads++, t.chunks(max)),
    readInto(offset: number, into: Uint8Array) {
      into.set(all.subarray(offset, offset + into.byteLength));
      return true;
    },
  };
  return out;
}

describe('watchNonFinite', () => {
  const f32 = MemoryTensor.fromFloat32([1000], poisoned(1000, [3, 999], [10, 11, 500]));
  const f16 = new MemoryTensor('F16', [300], new Uint8Array(Uint16Array.from(poisoned(300, [7], [8]), float32ToFloat16Bits).buffer));
  const clean = MemoryTensor.fromFloat32([64], poisoned(64, [], []));

  it('counts through chunks() as a separate scan does, in order, clean tensors left out', () => {
    const watch = watchNonFinite([['a', f32], ['b', clean], ['c', f16]], (name) => (name === 'c' ? 'src/c' : undefined));
    for (const t of watch.tensors.values()) for (const _ of t.chunks(7)) void _; // odd pieces split elements
    expect(watch.results()).toEqual([
      { tensor: 'a', ...countNonFinite(f32) },
      { tensor: 'c', source: 'src/c', ...countNonFinite(f16) },
    ]);
    expect(countNonFinite(f32)).toEqual({ nan: 2, inf: 3, total: 1000 });
  });

  it('counts through readInto() pieces in order, without reading the tensor again', async () => {
    const source = fileLike(f32);
    const watch = watchNonFinite([['a', source]]);
    const t = watch.tensors.get('a')!;
    for (let at = 0; at < t.byteLength; at += 1000) t.readInto!(at, new Uint8Array(Math.min(1000, t.byteLength - at)));
    expect(watch.results()).toEqual([{ tensor: 'a', nan: 2, inf: 3, total: 1000 }]);
    expect(source.reads).toBe(0);
  });

  it('scans at the end a tensor read out of order, partly, or not at all', () => {
    const outOfOrder = fileLike(f32);
    const partly = fileLike(f32);
    const never = fileLike(f32);
    const watch = watchNonFinite([['o', outOfOrder], ['p', partly], ['n', never]]);
    const o = watch.tensors.get('o')!;
    o.readInto!(0, new Uint8Array(400));
    o.readInto!(2000, new Uint8Array(400));
    o.readInto!(400, new Uint8Array(1600));
    const p = watch.tensors.get('p')!;
    for (const chunk of p.chunks(64)) if (chunk) break;
    expect(watch.results().map((r) => [r.tensor, r.nan, r.inf])).toEqual([['o', 2, 3], ['p', 2, 3], ['n', 2, 3]]);
    expect([outOfOrder.reads, partly.reads, never.reads]).toEqual([1, 2, 1]);
  });

  it('a safetensors write of watched tensors is the scan: counts equal, one read per tensor', async () => {
    const a = fileLike(f32);
    const c = fileLike(f16);
    const watch = watchNonFinite([['a', a], ['c', c]]);
    await writeSafetensorsAsync(join(root, 'w.safetensors'), [...watch.tensors]);
    expect(watch.results()).toEqual([{ tensor: 'a', ...countNonFinite(f32) }, { tensor: 'c', ...countNonFinite(f16) }]);
    // whatever way the writer took (readInto or chunks), nothing was read a second time for the scan
    expect(a.reads + c.reads).toBeLessThanOrEqual(2);
  });
});
