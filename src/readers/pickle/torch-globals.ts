import { DTYPE_SIZE, type DType } from '../../dtype.js';
import { CorruptInputError, UnsupportedModelError } from '../../errors.js';
import { LazyTensor, TorchStorage } from '../lazy-tensor.js';
import { type GlobalShim, type ShimContext, inert } from './shims.js';
import { PyGlobal, PyObject, type PyValue } from './values.js';

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

/** The torch._utils rebuild functions `_rebuild_from_type_v2` may call (what Tensor.__reduce_ex__ writes). */
export const TENSOR_REBUILDS: ReadonlySet<string> = new Set([
  'torch._utils._rebuild_tensor', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor_v3',
  'torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state',
]);
/** Tensor classes `_rebuild_from_type_v2` may turn its result into. */
export const TENSOR_CLASSES: ReadonlySet<string> = new Set(['torch.Tensor', 'torch.nn.parameter.Parameter']);

const isTensor = (v: PyValue | undefined): boolean => v instanceof LazyTensor || (v instanceof PyObject && v.className === 'torch.Tensor');

/**
 * The arguments every rebuild shares, checked before anything is built: `requires_grad` a bool, `backward_hooks`
 * absent or an empty OrderedDict (torch.save always writes an empty one; a hook is a callable PyTorch would keep on
 * the tensor), `metadata`/`state` absent or dicts.
 */
function checkRebuildArgs(name: string, ctx: ShimContext, args: readonly PyValue[], at: { grad: number; hooks: number; dicts: number[] }): void {
  const grad = args[at.grad];
  if (grad !== undefined && grad !== null && typeof grad !== 'boolean') throw ctx.badArgument(name, 'a requires_grad that is not a bool');
  const hooks = args[at.hooks];
  if (hooks !== undefined && hooks !== null && !(hooks instanceof Map && hooks.size === 0)) {
    throw ctx.badArgument(name, 'backward hooks (torch.save writes an empty OrderedDict; a hook is a callable PyTorch would attach to the tensor)');
  }
  for (const i of at.dicts) {
    const v = args[i];
    const isState = v === undefined || v === null || v instanceof Map || (Array.isArray(v) && v.length === 2 && v.every((x) => x === null || x instanceof Map));
    if (!isState) throw ctx.badArgument(name, `argument ${i + 1} that is not a dict of attributes`);
  }
}

const rebuildV2: GlobalShim = {
  call(args, ctx) {
    checkRebuildArgs('torch._utils._rebuild_tensor_v2', ctx, args, { grad: 4, hooks: 5, dicts: [6] });
    return rebuildTensor(args, ctx);
  },
};
const rebuildV3: GlobalShim = {
  call(args, ctx) {
    checkRebuildArgs('torch._utils._rebuild_tensor_v3', ctx, args, { grad: 4, hooks: 5, dicts: [7] });
    return rebuildTensor(args, ctx, args[6] ?? null);
  },
};
/** `_rebuild_parameter(data, requires_grad, backward_hooks[, state])` and `Parameter(data)`: the tensor itself. */
const parameter = (name: string, stateAt: number[]): GlobalShim['call'] => (args, ctx) => {
  if (args.length > 0 && !isTensor(args[0])) throw ctx.badArgument(name, 'data that is not a tensor');
  checkRebuildArgs(name, ctx, args, { grad: 1, hooks: 2, dicts: stateAt });
  return args[0] ?? null;
};
const parameterClass = parameter('torch.nn.parameter.Parameter', []);

/** `_rebuild_from_type_v2(func, new_type, args, state)`: the tensor subclass wrapper; the tensor is `func(*args)`. */
const rebuildFromType: GlobalShim = {
  call(args, ctx) {
    const [func, newType, funcArgs, state] = args;
    const name = 'torch._tensor._rebuild_from_type_v2';
    if (!(func instanceof PyGlobal) || !TENSOR_REBUILDS.has(func.fullName)) {
      throw ctx.badArgument(name, `${func instanceof PyGlobal ? func.fullName : 'a value that is not a global'} as the function to call; PyTorch would call it with the pickled arguments (only torch._utils tensor rebuilds are accepted)`);
    }
    if (!(newType instanceof PyGlobal) || !TENSOR_CLASSES.has(newType.fullName)) {
      throw ctx.badArgument(name, `${newType instanceof PyGlobal ? newType.fullName : 'a value that is not a global'} as the tensor class (accepted: ${[...TENSOR_CLASSES].join(', ')})`);
    }
    if (!Array.isArray(funcArgs)) throw ctx.badArgument(name, 'arguments that are not a tuple');
    checkRebuildArgs(name, ctx, [null, null, null, state ?? null], { grad: 0, hooks: 1, dicts: [3] });
    return ctx.call(func, funcArgs as PyValue[]);
  },
};

const storageOrDType: GlobalShim = {};

/** Shims of the torch globals (the allow-list, allow-list.ts, says what each becomes and why it is safe). */
export const TORCH_STORAGE_AND_DTYPE_NAMES: readonly string[] = [...DTYPE_OF_GLOBAL.keys()];
export const TORCH_SHIMS = {
  storageOrDType,
  rebuildV1: { call: (args, ctx) => rebuildTensor(args, ctx) } as GlobalShim,
  rebuildV2,
  rebuildV3,
  rebuildParameter: { call: parameter('torch._utils._rebuild_parameter', []) } as GlobalShim,
  rebuildParameterWithState: { call: parameter('torch._utils._rebuild_parameter_with_state', [3]) } as GlobalShim,
  rebuildFromType,
  parameter: { call: parameterClass, create: parameterClass } as GlobalShim,
  tensorClass: {} as GlobalShim,
  size: {
    call: (args, ctx) => (Array.isArray(args[0]) ? (ctx.allocate(args[0].length), Object.freeze([...(args[0] as PyValue[])])) : inert('torch.Size', args)),
  } as GlobalShim,
  device: {
    call: (args) => (typeof args[0] === 'string' ? (typeof args[1] === 'number' ? `${args[0]}:${args[1]}` : args[0]) : inert('torch.device', args)),
  } as GlobalShim,
  getLayout: { call: (args) => (typeof args[0] === 'string' ? args[0] : inert('torch.layout', args)) } as GlobalShim,
} satisfies Record<string, GlobalShim>;
