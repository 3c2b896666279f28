import { DTYPE_SIZE, type DType } from '../../dtype.js';
import { CorruptInputError, UnsupportedModelError } from '../../errors.js';
import { LazyTensor, TorchStorage } from '../lazy-tensor.js';
import { type GlobalShim, type ShimContext, inert } from './shims.js';
import { PyGlobal, type PyValue } from './values.js';

/** torch globals: storage classes and dtypes (markers with a DType), rebuild functions (→ LazyTensor), Size, device. */

const STORAGE_CLASSES: Record<string, DType | null> = {
  DoubleStorage: 'F64', FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL', UntypedStorage: 'U8',
  ComplexFloatStorage: null, ComplexDoubleStorage: null, QInt8Storage: null, QUInt8Storage: null, QInt32Storage: null,
  QUInt4x2Storage: null, QUInt2x4Storage: null,
};

const TORCH_DTYPES: Record<string, DType | null> = {
  float64: 'F64', double: 'F64', float32: 'F32', float: 'F32', float16: 'F16', half: 'F16', bfloat16: 'BF16',
  int64: 'I64', long: 'I64', int32: 'I32', int: 'I32', int16: 'I16', short: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
  complex64: null, complex128: null, cfloat: null, cdouble: null, uint16: null, uint32: null, uint64: null,
  float8_e4m3fn: null, float8_e5m2: null, qint8: null, quint8: null, qint32: null,
};

/** Full global name → element type, for storage classes and `torch.<dtype>` objects (null: known but unsupported). */
const DTYPE_OF_GLOBAL = new Map<string, DType | null>([
  ...Object.entries(STORAGE_CLASSES).flatMap(([name, dtype]): Array<[string, DType | null]> => [
    [`torch.${name}`, dtype],
    [`torch.cuda.${name}`, dtype],
  ]),
  ['torch.storage.UntypedStorage', 'U8'],
  ...Object.entries(TORCH_DTYPES).map(([name, dtype]): [string, DType | null] => [`torch.${name}`, dtype]),
]);

/** The element type a storage class or dtype global stands for; undefined when the value is neither. */
export function dtypeOfGlobal(value: PyValue): DType | null | undefined {
  return value instanceof PyGlobal ? DTYPE_OF_GLOBAL.get(value.fullName) : undefined;
}

function intList(value: PyValue | undefined): number[] | null {
  if (!Array.isArray(value)) return null;
  const out: number[] = [];
  for (const v of value as PyValue[]) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return null;
    out.push(v);
  }
  return out;
}

/** `_rebuild_tensor*(storage, storage_offset, size, stride, ...)` → a LazyTensor over the storage. */
function rebuildTensor(args: readonly PyValue[], ctx: ShimContext, dtypeArg?: PyValue): PyValue {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorage)) return inert('torch.Tensor', args); // a raw pickle without its storages
  const shape = intList(size);
  const strides = intList(stride);
  if (!shape || !strides || shape.length !== strides.length || typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new CorruptInputError('E_TENSOR_BAD_VIEW', `${ctx.where}: tensor over storage '${storage.key}' has an invalid view (offset, size, stride)`, {
      storage: storage.key,
    });
  }
  let dtype = storage.dtype;
  if (dtypeArg !== undefined) {
    const d = dtypeOfGlobal(dtypeArg);
    if (!d) throw unsupportedDType(dtypeArg, ctx);
    dtype = d;
  }
  let numel = 1;
  for (const d of shape) numel *= d;
  if (!Number.isSafeInteger(numel * DTYPE_SIZE[dtype])) {
    throw new CorruptInputError('E_TENSOR_BAD_VIEW', `${ctx.where}: tensor shape [${shape.join(', ')}] is too large`, { storage: storage.key });
  }
  // _rebuild_tensor_v3 gives the offset in elements of the tensor dtype over an untyped (byte) storage
  return new LazyTensor(storage, dtype, Object.freeze(shape), Object.freeze(strides), offset);
}

export function unsupportedDType(value: PyValue, ctx: ShimContext): Error {
  const name = value instanceof PyGlobal ? value.fullName : String(value);
  return new UnsupportedModelError('E_TENSOR_UNSUPPORTED_DTYPE', `${ctx.where}: element type ${name} is not supported (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)`, {
    dtype: name,
  });
}

const passFirst: GlobalShim = { call: (args) => args[0] ?? null };

export const TORCH_SHIMS: Record<string, GlobalShim> = {
  ...Object.fromEntries([...DTYPE_OF_GLOBAL.keys()].map((name) => [name, {}])),
  'torch._utils._rebuild_tensor': { call: (args, ctx) => rebuildTensor(args, ctx) },
  'torch._utils._rebuild_tensor_v2': { call: (args, ctx) => rebuildTensor(args, ctx) },
  'torch._utils._rebuild_tensor_v3': { call: (args, ctx) => rebuildTensor(args, ctx, args[6] ?? null) },
  'torch._utils._rebuild_parameter': passFirst,
  'torch._utils._rebuild_parameter_with_state': passFirst,
  'torch._tensor._rebuild_from_type_v2': {
    // (func, new_type, args, state): the tensor subclass wrapper; the tensor is func(*args)
    call: (args, ctx) => ctx.call(args[0] ?? null, Array.isArray(args[2]) ? (args[2] as PyValue[]) : []),
  },
  'torch.nn.parameter.Parameter': { call: passFirst.call!, create: passFirst.call! },
  'torch.Tensor': {},
  'torch.Size': { call: (args, ctx) => (Array.isArray(args[0]) ? (ctx.allocate(args[0].length), Object.freeze([...(args[0] as PyValue[])])) : inert('torch.Size', args)) },
  'torch.device': {
    call: (args) => (typeof args[0] === 'string' ? (typeof args[1] === 'number' ? `${args[0]}:${args[1]}` : args[0]) : inert('torch.device', args)),
  },
  'torch.serialization._get_layout': { call: (args) => (typeof args[0] === 'string' ? args[0] : inert('torch.layout', args)) },
};
