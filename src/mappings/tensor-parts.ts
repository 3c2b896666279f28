import { CorruptInputError } from '../errors.js';
import { LazyTensor } from '../readers/lazy-tensor.js';
import { MemoryTensor, type TensorData } from '../tensor.js';

/**
 * Part `index` of `of` equal parts of `tensor` along its first dimension (a fused q/k/v projection cut in three).
 * A checkpoint tensor becomes a view of the same storage bytes (nothing is read or copied until written); any other
 * tensor, an exact copy of its rows.
 */
export function firstDimPart(tensor: TensorData, index: number, of: number, name: string): TensorData {
  const rows = tensor.shape[0];
  if (tensor.shape.length === 0 || rows === undefined || rows % of !== 0) {
    throw new CorruptInputError(
      'E_TENSOR_SHAPE',
      `${name} is [${tensor.shape.join(', ')}]; a fused projection needs a first dimension divisible by ${of}, one part per projection`,
      { tensor: name, shape: [...tensor.shape] },
    );
  }
  const partRows = rows / of;
  const shape = [partRows, ...tensor.shape.slice(1)];
  if (tensor instanceof LazyTensor) {
    const rowStride = tensor.strides[0]!;
    return new LazyTensor(tensor.storage, tensor.dtype, shape, tensor.strides, tensor.storageOffset + index * partRows * rowStride);
  }
  const rowBytes = tensor.byteLength / rows;
  const start = index * partRows * rowBytes;
  return new MemoryTensor(tensor.dtype, shape, tensor.bytes().slice(start, start + partRows * rowBytes));
}
