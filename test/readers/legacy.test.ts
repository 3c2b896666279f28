import { describe, expect, test } from 'vitest';
import { CorruptInputError, UnsupportedModelError } from '../../src/errors.js';
import { type LazyTensor, pyGet, readCheckpoint } from '../../src/readers/index.js';
import { PickleBuilder, pickle } from '../helpers/pickle-builder.js';
import { f32Bytes } from '../helpers/zip-builder.js';
import { concat } from '../helpers/bytes.js';

/** A legacy torch file: magic, protocol, sys_info, object pickle, sorted key list, then each storage's numel + bytes. */
function legacyFile(opts: { object: Uint8Array; keys: string[]; storages: Array<{ numel: number; data: Uint8Array }>; littleEndian?: boolean; protocol?: number }): Uint8Array {
  const parts = [
    pickle().proto(2).long1(0x1950a86a20f9469cfc6cn).done(),
    pickle().proto(2).int(opts.protocol ?? 1001).done(),
    pickle().proto(2).emptyDict().str('protocol_version').int(1001).setitem().str('little_endian').bool(opts.littleEndian ?? true).setitem().done(),
    opts.object,
    (() => {
      const b = pickle().proto(2).mark();
      for (const k of opts.keys) b.str(k);
      return b.list().done();
    })(),
  ];
  for (const s of opts.storages) {
    parts.push(new Uint8Array(new BigInt64Array([BigInt(s.numel)]).buffer), s.data);
  }
  return concat(...parts);
}

/** `_rebuild_tensor_v2` over a legacy 6-tuple persistent id. */
function legacyTensor(b: PickleBuilder, t: { key: string; numel: number; view?: [string, number, number]; offset?: number; shape: number[]; stride: number[] }): PickleBuilder {
  b.global('torch._utils', '_rebuild_tensor_v2').mark();
  b.mark().str('storage').global('torch', 'FloatStorage').str(t.key).str('cpu').int(t.numel);
  if (t.view) b.mark().str(t.view[0]).int(t.view[1]).int(t.view[2]).tuple();
  else b.none();
  b.tuple().binpersid().int(t.offset ?? 0).mark();
  for (const d of t.shape) b.int(d);
  b.tuple().mark();
  for (const s of t.stride) b.int(s);
  return b.tuple().bool(false).orderedDict().tuple().reduce();
}

describe('legacy (non-zip) torch files made in-test', () => {
  const object = (): Uint8Array => {
    const b = pickle().proto(2).emptyDict().str('a');
    legacyTensor(b, { key: '140', numel: 4, shape: [2, 2], stride: [2, 1] }).setitem().str('b');
    legacyTensor(b, { key: '7', numel: 6, view: ['v1', 2, 3], shape: [3], stride: [1] }).setitem().str('blob').str('x'.repeat(1_500_000)).setitem();
    return b.done();
  };

  test('reads storages in key-list order, legacy storage views, and an object pickle larger than the first read window', () => {
    const file = legacyFile({ object: object(), keys: ['140', '7'], storages: [{ numel: 4, data: f32Bytes([1, 2, 3, 4]) }, { numel: 6, data: f32Bytes([10, 11, 12, 13, 14, 15]) }] });
    const ckpt = readCheckpoint(file);
    expect(ckpt.format).toBe('torch-legacy');
    expect(new Float32Array((pyGet(ckpt.root, 'a') as LazyTensor).bytes().slice().buffer)).toEqual(Float32Array.from([1, 2, 3, 4]));
    expect(new Float32Array((pyGet(ckpt.root, 'b') as LazyTensor).bytes().slice().buffer)).toEqual(Float32Array.from([12, 13, 14]));
    expect((pyGet(ckpt.root, 'blob') as string).length).toBe(1_500_000);
    expect(ckpt.tensors.map((t) => t.path)).toEqual(['a', 'b']);
    expect(ckpt.warnings).toEqual([]);
  });

  test('a storage header that disagrees with the pickle is E_STORAGE_SIZE', () => {
    const file = legacyFile({ object: object(), keys: ['140', '7'], storages: [{ numel: 3, data: f32Bytes([1, 2, 3]) }, { numel: 6, data: f32Bytes([0, 0, 0, 0, 0, 0]) }] });
    expect(() => readCheckpoint(file)).toThrow(expect.objectContaining({ code: 'E_STORAGE_SIZE' }));
  });

  test('a file cut inside the storages is E_TRUNCATED', () => {
    const file = legacyFile({ object: object(), keys: ['140', '7'], storages: [{ numel: 4, data: f32Bytes([1, 2, 3, 4]) }, { numel: 6, data: f32Bytes([1, 2]) }] });
    const e = (() => { try { readCheckpoint(file); } catch (x) { return x as CorruptInputError; } })();
    expect(e?.code).toBe('E_TRUNCATED');
    expect(e?.message).toMatch(/storage '7' \(24 bytes at offset \d+\) runs past the end of the file/);
  });

  test('wrong protocol version and big-endian sys_info', () => {
    const storages = [{ numel: 4, data: f32Bytes([1, 2, 3, 4]) }, { numel: 6, data: new Uint8Array(24) }];
    expect(() => readCheckpoint(legacyFile({ object: object(), keys: ['140', '7'], storages, protocol: 1000 }))).toThrow(/unsupported legacy protocol version 1000/);
    expect(() => readCheckpoint(legacyFile({ object: object(), keys: ['140', '7'], storages, littleEndian: false }))).toThrow(UnsupportedModelError);
  });
});
