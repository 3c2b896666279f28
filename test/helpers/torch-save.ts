/**
 * Writes a checkpoint tree (as our reader returns it: Maps, arrays, scalars, tensors) back as a torch.save zip, with
 * the pickle and zip builders. For tests that edit a real fixture (drop, reshape or poison a tensor, change a config
 * field) and need the edited file on disk. Inert records (pickled objects of unknown classes) are written as None.
 */
import type { DType } from '../../src/dtype.js';
import { isTensor } from '../../src/mappings/state-dict.js';
import { contiguousStrides } from '../../src/readers/lazy-tensor.js';
import { pickle } from './pickle-builder.js';
import { buildTorchZip } from './zip-builder.js';

const STORAGE_CLASS: Partial<Record<DType, string>> = {
  F64: 'DoubleStorage',
  F32: 'FloatStorage',
  F16: 'HalfStorage',
  BF16: 'BFloat16Storage',
  I64: 'LongStorage',
  I32: 'IntStorage',
  I16: 'ShortStorage',
  I8: 'CharStorage',
  U8: 'ByteStorage',
  BOOL: 'BoolStorage',
};

export function torchSave(root: unknown): Uint8Array {
  const b = pickle().proto(2);
  const storages: Record<string, Uint8Array> = {};
  let next = 0;
  const write = (v: unknown): void => {
    if (v === null || v === undefined) b.none();
    else if (typeof v === 'boolean') b.bool(v);
    else if (typeof v === 'bigint') b.int(v);
    else if (typeof v === 'number') {
      if (Number.isInteger(v) && Math.abs(v) < 2 ** 53) b.int(v);
      else b.binfloat(v);
    } else if (typeof v === 'string') b.str(v);
    else if (Array.isArray(v)) {
      b.emptyList();
      if (v.length > 0) {
        b.mark();
        v.forEach(write);
        b.appends();
      }
    } else if (v instanceof Map) {
      b.emptyDict();
      if (v.size > 0) {
        b.mark();
        for (const [k, x] of v) {
          write(k);
          write(x);
        }
        b.setitems();
      }
    } else if (isTensor(v)) {
      const key = String(next++);
      storages[key] = new Uint8Array(v.bytes());
      const numel = v.shape.reduce((a, d) => a * d, 1);
      b.tensor({ storageClass: STORAGE_CLASS[v.dtype]!, key, numel, shape: [...v.shape], stride: contiguousStrides(v.shape) });
    } else b.none();
  };
  write(root);
  return buildTorchZip({ pickle: b.done(), storages, byteorder: 'little' });
}
