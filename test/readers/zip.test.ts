import { describe, expect, test } from 'vitest';
import { BufferSource } from '../../src/byte-source.js';
import { CorruptInputError, UnsupportedModelError } from '../../src/errors.js';
import { LazyTensor, entryDataOffset, pyGet, readCheckpoint, readZipEntries } from '../../src/readers/index.js';
import { pickle } from '../helpers/pickle-builder.js';
import { buildTorchZip, buildZip, f32Bytes } from '../helpers/zip-builder.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function errorOf(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('zip central directory', () => {
  for (const zip64 of [false, true, 'offset'] as const) {
    test(`entries, sizes and 64-byte aligned data offsets (zip64: ${zip64})`, () => {
      const bytes = buildZip([{ name: 'a/x', data: enc('hello') }, { name: 'a/yy', data: enc('') }, { name: 'a/z', data: new Uint8Array(300).fill(7) }], { zip64, align: 64 });
      const source = new BufferSource(bytes, 't.zip');
      const entries = readZipEntries(source);
      expect(entries.map((e) => [e.name, e.size, e.compressedSize, e.method])).toEqual([['a/x', 5, 5, 0], ['a/yy', 0, 0, 0], ['a/z', 300, 300, 0]]);
      const at = entryDataOffset(source, entries[0]!);
      expect(at % 64).toBe(0);
      expect(new TextDecoder().decode(source.read(at, 5))).toBe('hello');
      expect(source.read(entryDataOffset(source, entries[2]!), 300)).toEqual(new Uint8Array(300).fill(7));
    });
  }

  test('a zip comment after the end record is skipped', () => {
    const bytes = buildZip([{ name: 'f', data: enc('x') }]);
    const withComment = new Uint8Array(bytes.length + 5);
    withComment.set(bytes);
    withComment.set(enc('hello'), bytes.length);
    withComment[bytes.length - 2] = 5; // comment length
    expect(readZipEntries(new BufferSource(withComment)).map((e) => e.name)).toEqual(['f']);
  });

  test('no end record → E_ZIP_NO_DIRECTORY; truncated directory → E_TRUNCATED', () => {
    const bytes = buildZip([{ name: 'f', data: enc('x') }]);
    expect(errorOf(() => readZipEntries(new BufferSource(bytes.subarray(0, bytes.length - 22), 'cut.zip'))).code).toBe('E_ZIP_NO_DIRECTORY');
    const moved = bytes.slice();
    new DataView(moved.buffer).setUint32(moved.length - 6, 10_000, true); // directory offset far away
    const e = errorOf(() => readZipEntries(new BufferSource(moved, 'bad.zip')));
    expect([e.code, e.message]).toEqual(['E_TRUNCATED', expect.stringMatching(/^bad\.zip: the central directory \(offset 10000, \d+ bytes\) lies beyond the end of the file/)]);
  });
});

describe('torch zip checkpoints made in-test', () => {
  const statePickle = (storageClass = 'FloatStorage'): Uint8Array =>
    pickle().proto(2).emptyDict().str('w').tensor({ storageClass, key: '0', numel: 6, shape: [2, 3], stride: [3, 1] }).setitem()
      .str('t').tensor({ storageClass, key: '0', numel: 6, offset: 1, shape: [2, 2], stride: [1, 3] }).setitem().done();
  const data = f32Bytes([0, 1, 2, 3, 4, 5]);

  for (const zip64 of [false, true, 'offset'] as const) {
    test(`reads tensors (shared storage, strided view) from an archive whose folder is not "archive" (zip64: ${zip64})`, () => {
      const bytes = buildTorchZip({ folder: 'my_model', pickle: statePickle(), storages: { '0': data }, byteorder: 'little', zip64 });
      const ckpt = readCheckpoint(bytes);
      expect(ckpt.format).toBe('torch-zip');
      expect(ckpt.tensors.map((t) => t.path)).toEqual(['w', 't']);
      const w = pyGet(ckpt.root, 'w') as LazyTensor;
      expect(new Float32Array(w.bytes().slice().buffer)).toEqual(Float32Array.from([0, 1, 2, 3, 4, 5]));
      const t = pyGet(ckpt.root, 't') as LazyTensor;
      expect(t.storage).toBe(w.storage);
      // t[i][j] = storage[1 + i + 3j]
      expect(new Float32Array(t.bytes().slice().buffer)).toEqual(Float32Array.from([1, 4, 2, 5]));
      expect(ckpt.globals.map((g) => [g.name, g.count])).toEqual([
        ['torch._utils._rebuild_tensor_v2', 2], ['torch.FloatStorage', 1], ['collections.OrderedDict', 2],
      ]);
    });
  }

  test('records without a byteorder record are little-endian; other dtypes (BF16/I64/BOOL) keep their bytes', () => {
    const p = pickle().proto(2).mark()
      .tensor({ storageClass: 'BFloat16Storage', key: 'a', numel: 2, shape: [2], stride: [1] })
      .tensor({ storageClass: 'LongStorage', key: 'b', numel: 1, shape: [], stride: [] })
      .tensor({ storageClass: 'BoolStorage', key: 'c', numel: 3, shape: [3], stride: [1] })
      .list().done();
    const i64 = new Uint8Array(new BigInt64Array([-5n]).buffer);
    const ckpt = readCheckpoint(buildTorchZip({ pickle: p, storages: { a: Uint8Array.from([0x80, 0x3f, 0, 0x40]), b: i64, c: Uint8Array.from([1, 0, 1]) } }));
    expect(ckpt.tensors.map((t) => [t.path, t.tensor.dtype, [...t.tensor.shape]])).toEqual([['0', 'BF16', [2]], ['1', 'I64', []], ['2', 'BOOL', [3]]]);
    expect(ckpt.tensors[1]!.tensor.bytes()).toEqual(i64);
  });

  test('a compressed data.pkl is refused, naming the record', () => {
    const e = errorOf(() => readCheckpoint(buildTorchZip({ pickle: statePickle(), storages: { '0': data }, pickleMethod: 8 })));
    expect(e).toBeInstanceOf(CorruptInputError);
    expect(e.code).toBe('E_ZIP_COMPRESSED');
    expect(e.message).toMatch(/record 'archive\/data\.pkl' is compressed \(zip method 8\)/);
  });

  test('a compressed storage record is refused', () => {
    const bytes = buildZip([
      { name: 'archive/data.pkl', data: statePickle() },
      { name: 'archive/data/0', data, method: 8 },
    ]);
    expect(errorOf(() => readCheckpoint(bytes)).message).toMatch(/record 'archive\/data\/0' is compressed/);
  });

  test('big-endian archives are unsupported', () => {
    const e = errorOf(() => readCheckpoint(buildTorchZip({ pickle: statePickle(), storages: { '0': data }, byteorder: 'big' })));
    expect(e).toBeInstanceOf(UnsupportedModelError);
    expect(e.code).toBe('E_TORCH_BIG_ENDIAN');
  });

  test('missing, short and long storage records', () => {
    expect(errorOf(() => readCheckpoint(buildTorchZip({ pickle: statePickle(), storages: {} }))).message).toMatch(/storage record 'archive\/data\/0' is missing/);
    const short = errorOf(() => readCheckpoint(buildTorchZip({ pickle: statePickle(), storages: { '0': data.subarray(0, 20) } })));
    expect([short.code, short.message]).toEqual(['E_STORAGE_SIZE', expect.stringMatching(/'archive\/data\/0' holds 20 bytes but the pickle declares 24/)]);
    const long = errorOf(() => readCheckpoint(buildTorchZip({ pickle: statePickle(), storages: { '0': new Uint8Array(28) } })));
    expect(long.code).toBe('E_STORAGE_SIZE');
  });

  test('a view past its storage is E_TENSOR_OUT_OF_BOUNDS naming the tensor path', () => {
    const p = pickle().proto(2).emptyDict().str('model').emptyDict().str('bad').tensor({ key: '0', numel: 6, offset: 3, shape: [2, 2], stride: [2, 1] }).setitem().setitem().done();
    const e = errorOf(() => readCheckpoint(buildTorchZip({ pickle: p, storages: { '0': data } })));
    expect([e.code, e.message]).toEqual(['E_TENSOR_OUT_OF_BOUNDS', expect.stringMatching(/^tensor model\/bad: F32\[2, 2\] .* needs bytes up to 28 but storage '0' has 24 bytes/)]);
  });

  test('unsupported storage types and malformed persistent ids', () => {
    const complex = pickle().proto(2).tensor({ storageClass: 'ComplexFloatStorage', key: '0', numel: 1, shape: [1], stride: [1] }).done();
    const e = errorOf(() => readCheckpoint(buildTorchZip({ pickle: complex, storages: { '0': new Uint8Array(8) } })));
    expect([e.constructor, e.code]).toEqual([UnsupportedModelError, 'E_TENSOR_UNSUPPORTED_DTYPE']);
    const badPid = pickle().proto(2).mark().str('module').int(1).tuple().binpersid().done();
    expect(errorOf(() => readCheckpoint(buildTorchZip({ pickle: badPid }))).code).toBe('E_TORCH_BAD_PERSISTENT_ID');
  });

  test('an archive without data.pkl, and a TorchScript archive, are explained', () => {
    expect(errorOf(() => readCheckpoint(buildZip([{ name: 'x/other', data: enc('1') }]))).code).toBe('E_TORCH_NO_DATA_PKL');
    const script = errorOf(() => readCheckpoint(buildZip([{ name: 'm/code/__torch__.py', data: enc('') }, { name: 'm/constants.pkl', data: enc('') }])));
    expect([script.code, script.message]).toEqual(['E_TORCH_SCRIPT_ARCHIVE', expect.stringMatching(/TorchScript archive \(torch\.jit\.save\)/)]);
  });
});
