import { describe, expect, test } from 'vitest';
import { UnsupportedModelError } from '../../src/errors.js';
import { LazyTensor, pyAttributes, pyGet, readCheckpoint } from '../../src/readers/index.js';
import { type PickleBuilder, pickle } from '../helpers/pickle-builder.js';
import { buildTorchZip, f32Bytes } from '../helpers/zip-builder.js';

const storage = (b: PickleBuilder, cls: string, key: string, numel: number): PickleBuilder =>
  b.mark().str('storage').global('torch', cls).str(key).str('cpu').int(numel).tuple().binpersid();

const sizes = (b: PickleBuilder, shape: number[], stride: number[]): PickleBuilder => {
  b.mark();
  for (const d of shape) b.int(d);
  b.tuple().mark();
  for (const s of stride) b.int(s);
  return b.tuple();
};

const floats = (t: unknown): number[] => [...new Float32Array((t as LazyTensor).bytes().slice().buffer)];

describe('torch rebuild functions', () => {
  const data = { '0': f32Bytes([1, 2, 3, 4]) };

  test('_rebuild_tensor (v1), _rebuild_parameter, _rebuild_parameter_with_state, _rebuild_from_type_v2', () => {
    const b = pickle().proto(2).emptyDict();
    b.str('v1').global('torch._utils', '_rebuild_tensor').mark();
    storage(b, 'FloatStorage', '0', 4).int(1);
    sizes(b, [3], [1]).tuple().reduce().setitem();
    b.str('param').global('torch._utils', '_rebuild_parameter').mark().tensor({ key: '0', numel: 4, shape: [2], stride: [1] }).bool(true).orderedDict().tuple().reduce().setitem();
    b.str('param_state').global('torch._utils', '_rebuild_parameter_with_state').mark().tensor({ key: '0', numel: 4, offset: 2, shape: [2], stride: [1] })
      .bool(true).orderedDict().emptyDict().tuple().reduce().setitem();
    b.str('subclass').global('torch._tensor', '_rebuild_from_type_v2').mark().global('torch._utils', '_rebuild_tensor_v2').global('torch', 'Tensor').mark();
    storage(b, 'FloatStorage', '0', 4).int(0);
    sizes(b, [2, 2], [2, 1]).bool(false).orderedDict().tuple().emptyDict().tuple().reduce().setitem();
    const c = readCheckpoint(buildTorchZip({ pickle: b.done(), storages: data }), { strict: true });
    expect(c.tensors.map((t) => t.path)).toEqual(['v1', 'param', 'param_state', 'subclass']);
    expect(floats(pyGet(c.root, 'v1'))).toEqual([2, 3, 4]);
    expect(floats(pyGet(c.root, 'param'))).toEqual([1, 2]);
    expect(floats(pyGet(c.root, 'param_state'))).toEqual([3, 4]);
    expect(floats(pyGet(c.root, 'subclass'))).toEqual([1, 2, 3, 4]);
  });

  test('_rebuild_tensor_v3 over an UntypedStorage takes its dtype argument (offset in elements)', () => {
    const b = pickle().proto(2).global('torch._utils', '_rebuild_tensor_v3').mark();
    storage(b, 'UntypedStorage', '0', 16).int(1);
    sizes(b, [2], [1]).bool(false).orderedDict().global('torch', 'float32').tuple().reduce();
    const c = readCheckpoint(buildTorchZip({ pickle: b.done(), storages: data }));
    expect([c.tensors[0]!.tensor.dtype, floats(c.root)]).toEqual(['F32', [2, 3]]);
  });

  test('GPU-saved storages (torch.cuda.*Storage, location cuda:0) read like CPU ones; HalfStorage is F16', () => {
    const b = pickle().proto(2).global('torch._utils', '_rebuild_tensor_v2').mark()
      .mark().str('storage').global('torch.cuda', 'HalfStorage').str('0').str('cuda:0').int(2).tuple().binpersid().int(0);
    sizes(b, [2], [1]).bool(false).orderedDict().tuple().reduce();
    const c = readCheckpoint(buildTorchZip({ pickle: b.done(), storages: { '0': Uint8Array.from([0x00, 0x3c, 0x00, 0xc0]) } }));
    const t = c.root as LazyTensor;
    expect([t.dtype, t.storage.location, [...t.bytes()]]).toEqual(['F16', 'cuda:0', [0x00, 0x3c, 0x00, 0xc0]]);
  });

  test('an unsupported dtype argument is UnsupportedModelError', () => {
    const b = pickle().proto(2).global('torch._utils', '_rebuild_tensor_v3').mark();
    storage(b, 'UntypedStorage', '0', 16).int(0);
    sizes(b, [1], [1]).bool(false).orderedDict().global('torch', 'complex64').tuple().reduce();
    expect(() => readCheckpoint(buildTorchZip({ pickle: b.done(), storages: data }))).toThrow(UnsupportedModelError);
  });

  test('an invalid view (negative stride, rank mismatch) is E_TENSOR_BAD_VIEW at its pickle offset', () => {
    const b = pickle().proto(2).global('torch._utils', '_rebuild_tensor_v2').mark();
    storage(b, 'FloatStorage', '0', 4).int(0);
    sizes(b, [2, 2], [1]).bool(false).orderedDict().tuple().reduce();
    expect(() => readCheckpoint(buildTorchZip({ pickle: b.done(), storages: data }))).toThrow(/data\.pkl at offset \d+ \(REDUCE\): tensor over storage '0' has an invalid view/);
  });

  test('BUILD on a tensor (Parameter attributes) keeps them as attributes', () => {
    const b = pickle().proto(2).tensor({ key: '0', numel: 4, shape: [4], stride: [1] }).emptyDict().str('tag').str('x').setitem().build();
    const c = readCheckpoint(buildTorchZip({ pickle: b.done(), storages: data }));
    expect(pyAttributes(c.root)?.get('tag')).toBe('x');
  });
});
