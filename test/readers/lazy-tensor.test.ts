import { describe, expect, test } from 'vitest';
import { BufferSource, type ByteSource } from '../../src/byte-source.js';
import { CorruptInputError } from '../../src/errors.js';
import { LazyTensor, TorchStorage } from '../../src/readers/index.js';

/** Storage of `numel` float32 values 0, 1, 2, ... placed at byte 16 of a buffer, with a read counter. */
function storage(numel: number): { storage: TorchStorage; reads: Array<[number, number, boolean]> } {
  const bytes = new Uint8Array(16 + numel * 4);
  new Float32Array(bytes.buffer, 16, numel).set(Float32Array.from({ length: numel }, (_, i) => i));
  const inner = new BufferSource(bytes, 'mem');
  const reads: Array<[number, number, boolean]> = [];
  const source: ByteSource = {
    name: 'mem',
    size: inner.size,
    read: (offset, length, into) => (reads.push([offset, length, into !== undefined]), inner.read(offset, length, into)),
    close: () => {},
  };
  const s = new TorchStorage('0', 'F32', numel, 'cpu');
  s.bind(source, 16);
  return { storage: s, reads };
}

const values = (t: LazyTensor, chunk?: number): number[] => {
  const out: number[] = [];
  for (const c of t.chunks(chunk)) out.push(...new Float32Array(c.slice().buffer));
  return out;
};

describe('LazyTensor', () => {
  test('contiguous: positioned reads into one reused buffer, exposes fileOffset', () => {
    const { storage: s, reads } = storage(100);
    const t = new LazyTensor(s, 'F32', [10, 8], [8, 1], 20);
    expect(t.isContiguous).toBe(true);
    expect(t.fileOffset).toBe(16 + 20 * 4);
    const seen = new Set<ArrayBufferLike>();
    const got: number[] = [];
    for (const c of t.chunks(64)) {
      seen.add(c.buffer);
      got.push(...new Float32Array(c.slice().buffer));
    }
    expect(got).toEqual(Array.from({ length: 80 }, (_, i) => 20 + i));
    expect(seen.size).toBe(1);
    expect(reads).toEqual(Array.from({ length: 5 }, (_, i) => [96 + i * 64, 64, true]));
  });

  test('chunk sizes are rounded down to whole elements (at least one)', () => {
    const { storage: s } = storage(10);
    const t = new LazyTensor(s, 'F32', [10], [1], 0);
    expect([...t.chunks(10)].map((c) => c.byteLength)).toEqual([8, 8, 8, 8, 8]);
    expect([...t.chunks(1)].length).toBe(10);
  });

  test('non-contiguous views are gathered in C order for every chunk size', () => {
    const { storage: s } = storage(60);
    // a transposed 3x4 view: t[i][j] = storage[5 + i + 3j]
    const t = new LazyTensor(s, 'F32', [3, 4], [1, 3], 5);
    expect(t.isContiguous).toBe(false);
    expect(t.fileOffset).toBeUndefined();
    const expected = [5, 8, 11, 14, 6, 9, 12, 15, 7, 10, 13, 16];
    for (const chunk of [4, 8, 12, 20, 1 << 20]) expect(values(t, chunk)).toEqual(expected);
    // rows of a wider matrix: contiguous trailing blocks with a gap between them
    const rows = new LazyTensor(s, 'F32', [2, 2, 3], [20, 6, 1], 1);
    expect(values(rows, 8)).toEqual([1, 2, 3, 7, 8, 9, 21, 22, 23, 27, 28, 29]);
    expect(new Float32Array(rows.bytes().slice().buffer)).toEqual(Float32Array.from([1, 2, 3, 7, 8, 9, 21, 22, 23, 27, 28, 29]));
    // broadcast-like zero strides are valid views too
    expect(values(new LazyTensor(s, 'F32', [2, 3], [0, 1], 4))).toEqual([4, 5, 6, 4, 5, 6]);
  });

  test('0-d and empty tensors', () => {
    const { storage: s } = storage(8);
    const scalar = new LazyTensor(s, 'F32', [], [], 7);
    expect([scalar.byteLength, values(scalar)]).toEqual([4, [7]]);
    const empty = new LazyTensor(s, 'F32', [0, 5], [5, 1], 100);
    expect([empty.byteLength, [...empty.chunks()].length, empty.bytes().byteLength]).toEqual([0, 0, 0]);
    empty.validate('empty'); // an empty view never reads, wherever it points
  });

  test('views outside the storage are refused before any read', () => {
    const { storage: s, reads } = storage(16);
    const t = new LazyTensor(s, 'F32', [4, 4], [4, 1], 10);
    expect(() => t.validate('model/w')).toThrow(CorruptInputError);
    expect(() => t.validate('model/w')).toThrow(/^tensor model\/w: F32\[4, 4\] with strides \[4, 1\] at offset 10 needs bytes up to 104 but storage '0' has 64 bytes$/);
    expect(() => t.bytes()).toThrow(expect.objectContaining({ code: 'E_TENSOR_OUT_OF_BOUNDS' }));
    expect(reads).toEqual([]);
  });

  test('a storage view (legacy) reads from its base storage', () => {
    const { storage: base } = storage(10);
    const view = new TorchStorage('v', 'F32', 4, 'cpu', { base, offset: 3 });
    expect(values(new LazyTensor(view, 'F32', [4], [1], 0))).toEqual([3, 4, 5, 6]);
    expect(() => new LazyTensor(view, 'F32', [5], [1], 0).validate('x')).toThrow(/needs bytes up to 20 but storage 'v' has 16 bytes/);
  });
});
