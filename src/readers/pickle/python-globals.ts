import { CorruptInputError } from '../../errors.js';
import { type GlobalShim, type ShimContext, inert, stateMaps } from './shims.js';
import { PyGlobal, PyObject, type PyValue } from './values.js';

/** Shims for the Python standard library and numpy globals that checkpoints use (listed in allow-list.ts). */

function iterableItems(value: PyValue | undefined, ctx: ShimContext): PyValue[] | null {
  let items: PyValue[] | null = null;
  if (Array.isArray(value)) items = [...(value as PyValue[])];
  else if (value instanceof Set) items = [...value];
  else if (value instanceof Map) items = [...value.keys()];
  else if (value instanceof Uint8Array) items = Array.from(value);
  else if (typeof value === 'string') items = [...value];
  if (items) ctx.allocate(items.length);
  return items;
}

function dictFrom(value: PyValue | undefined, ctx: ShimContext): Map<PyValue, PyValue> {
  const out = new Map<PyValue, PyValue>();
  if (value instanceof Map) {
    ctx.allocate(value.size);
    for (const [k, v] of value) out.set(k, v);
  } else if (Array.isArray(value)) {
    ctx.allocate(value.length);
    for (const pair of value as PyValue[]) {
      if (Array.isArray(pair) && pair.length === 2) out.set(pair[0] as PyValue, pair[1] as PyValue);
    }
  }
  return out;
}

const frozen = (items: PyValue[]): readonly PyValue[] => Object.freeze(items);

/** `_codecs.encode(text, encoding)`: how protocol-2 pickles store `bytes`. */
export function encodeText(text: string, encoding: string, ctx: ShimContext): Uint8Array | null {
  const enc = encoding.toLowerCase().replace(/[-_]/g, '');
  if (enc === 'utf8') return new TextEncoder().encode(text);
  if (enc !== 'latin1' && enc !== 'iso88591' && enc !== 'l1') return null;
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 255) throw new CorruptInputError('E_PICKLE_BAD_BYTES', `${ctx.where}: latin-1 encoded bytes contain the character U+${code.toString(16)}`);
    out[i] = code;
  }
  return out;
}

/** A numpy scalar `scalar(dtype, raw_bytes)` as a JS number (or bigint / boolean), when its dtype is a plain one. */
function numpyScalar(args: readonly PyValue[], ctx: ShimContext): PyValue {
  const [dtype, raw] = args;
  const code = dtype instanceof PyObject && typeof dtype.args?.[0] === 'string' ? dtype.args[0] : null;
  const order = dtype instanceof PyObject && Array.isArray(dtype.state) ? dtype.state[1] : '<';
  if (!code || !(raw instanceof Uint8Array) || order === '>') return inert('numpy.scalar', args);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const need = (n: number): boolean => raw.byteLength === n;
  switch (code) {
    case 'f8': return need(8) ? dv.getFloat64(0, true) : inert('numpy.scalar', args);
    case 'f4': return need(4) ? dv.getFloat32(0, true) : inert('numpy.scalar', args);
    case 'i8': case 'u8': {
      if (!need(8)) return inert('numpy.scalar', args);
      const big = code === 'i8' ? dv.getBigInt64(0, true) : dv.getBigUint64(0, true);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
    }
    case 'i4': return need(4) ? dv.getInt32(0, true) : inert('numpy.scalar', args);
    case 'u4': return need(4) ? dv.getUint32(0, true) : inert('numpy.scalar', args);
    case 'i2': return need(2) ? dv.getInt16(0, true) : inert('numpy.scalar', args);
    case 'u2': return need(2) ? dv.getUint16(0, true) : inert('numpy.scalar', args);
    case 'i1': return need(1) ? dv.getInt8(0) : inert('numpy.scalar', args);
    case 'u1': return need(1) ? dv.getUint8(0) : inert('numpy.scalar', args);
    case 'b1': return need(1) ? raw[0] !== 0 : inert('numpy.scalar', args);
    default:
      ctx.warn(`${ctx.where}: numpy scalar of dtype '${code}' kept as an inert record`);
      return inert('numpy.scalar', args);
  }
}

/** A class whose instances are dict-like: NEWOBJ makes an empty Map, BUILD copies the instance `__dict__` into it. */
export const DICT_OF_ATTRIBUTES: GlobalShim = {
  create: () => new Map(),
  call: () => new Map(),
  build(target, state, ctx) {
    if (!(target instanceof Map)) return;
    for (const attrs of stateMaps(state)) {
      ctx.allocate(attrs.size);
      for (const [k, v] of attrs) target.set(k, v);
    }
  },
};

export const DICT_SHIM: GlobalShim = { call: (args, ctx) => dictFrom(args[0], ctx), create: () => new Map() };
export const SET_SHIM: GlobalShim = { call: (args, ctx) => new Set(iterableItems(args[0], ctx) ?? []), create: () => new Set() };
export const LIST_SHIM: GlobalShim = { call: (args, ctx) => iterableItems(args[0], ctx) ?? [], create: () => [] };
export const TUPLE_SHIM: GlobalShim = { call: (args, ctx) => frozen(iterableItems(args[0], ctx) ?? []) };
export const OBJECT_SHIM: GlobalShim = { call: () => inert('builtins.object'), create: () => inert('builtins.object') };
/** A class whose calls stay inert records of their arguments (`complex(1, 2)`, `range(10)`). */
export const inertCall = (className: string): GlobalShim => ({ call: (args) => inert(className, args) });

/** `defaultdict(factory)`: the factory is called only on a missing key after loading; it must be an allowed class. */
export const DEFAULTDICT_SHIM: GlobalShim = {
  call(args, ctx) {
    const factory = args[0] ?? null;
    if (factory !== null && ctx.globalKind(factory) !== 'class') {
      throw ctx.badArgument('collections.defaultdict', 'a default factory that is not an allowed class (torch.save writes dict, list, int, ...)');
    }
    return new Map();
  },
  create: () => new Map(),
};

/** `bytes()`: how protocol 2 writes an empty bytes object; anything else stays an inert record. */
export const BYTES_SHIM: GlobalShim = { call: (args) => (args.length === 0 ? new Uint8Array(0) : inert('builtins.bytes', args)) };

export const BYTEARRAY_SHIM: GlobalShim = {
  call(args, ctx) {
    const [first, encoding] = args;
    if (first === undefined) return new Uint8Array(0);
    if (first instanceof Uint8Array) return new Uint8Array(first);
    if (typeof first === 'string' && typeof encoding === 'string') return encodeText(first, encoding, ctx) ?? inert('builtins.bytearray', args);
    if (Array.isArray(first) && first.every((b) => typeof b === 'number' && Number.isInteger(b) && b >= 0 && b < 256)) {
      ctx.allocate(first.length);
      return Uint8Array.from(first as number[]);
    }
    return inert('builtins.bytearray', args); // bytearray(n) would allocate n bytes: keep it as a record
  },
};

/** Bases `copyreg._reconstructor` may call `__new__`/`__init__` of: builtin types, whose constructors only copy data. */
const RECONSTRUCTOR_BASES: ReadonlySet<string> = new Set([
  'builtins.object', 'builtins.dict', 'builtins.list', 'builtins.tuple', 'builtins.set', 'builtins.frozenset',
  'builtins.int', 'builtins.float', 'builtins.str', 'builtins.bytes',
]);

/** copyreg._reconstructor(cls, base, state): protocol 0/1 form of `cls.__new__(cls)` (then `base.__init__(obj, state)`). */
export const RECONSTRUCTOR_SHIM: GlobalShim = {
  call(args, ctx) {
    const [cls = null, base = null] = args;
    if (!(base instanceof PyGlobal) || !RECONSTRUCTOR_BASES.has(base.fullName)) {
      throw ctx.badArgument('copyreg._reconstructor', `the base ${base instanceof PyGlobal ? base.fullName : 'value'}, which is not a builtin type (object, dict, list, ...); PyTorch would call its __new__ and __init__`);
    }
    const kind = ctx.globalKind(cls);
    if (kind !== 'class' && kind !== 'user') {
      throw ctx.badArgument('copyreg._reconstructor', `${cls instanceof PyGlobal ? cls.fullName : 'a value that is not a global'} as the class, which is not an allowed class`);
    }
    return ctx.construct(cls, []);
  },
};

/** copyreg.__newobj__(cls, *args) / __newobj_ex__(cls, args, kwargs): NEWOBJ spelled as a call; the class is checked like NEWOBJ's. */
export const NEWOBJ_SHIM: GlobalShim = { call: (args, ctx) => ctx.construct(args[0] ?? null, args.slice(1)) };
export const NEWOBJ_EX_SHIM: GlobalShim = {
  call: (args, ctx) => ctx.construct(args[0] ?? null, Array.isArray(args[1]) ? (args[1] as PyValue[]) : []),
};

/** `_codecs.encode(text, encoding)`: how protocol-2 pickles store `bytes` (always latin1; utf-8 seen too). */
export const CODECS_ENCODE_SHIM: GlobalShim = {
  call(args, ctx) {
    const [text, encoding = 'utf-8'] = args;
    if (typeof text !== 'string' || typeof encoding !== 'string') throw ctx.badArgument('_codecs.encode', 'arguments that are not (text, encoding name)');
    const bytes = encodeText(text, encoding, ctx);
    if (!bytes) throw ctx.badArgument('_codecs.encode', `the codec ${JSON.stringify(encoding)} (pickles use latin1; PyTorch would look the codec up by name)`);
    return bytes;
  },
};

export const NUMPY_SCALAR_SHIM: GlobalShim = {
  call(args, ctx) {
    const dtype = args[0];
    if (!(dtype instanceof PyObject) || dtype.className !== 'numpy.dtype') throw ctx.badArgument('numpy scalar', 'a first argument that is not a numpy.dtype');
    return numpyScalar(args, ctx);
  },
};

export const NUMPY_DTYPE_SHIM: GlobalShim = {
  call(args, ctx) {
    if (typeof args[0] !== 'string') throw ctx.badArgument('numpy.dtype', 'a type that is not a dtype string such as "f8"');
    return inert('numpy.dtype', args);
  },
};

/** `_reconstruct(ndarray, shape, typecode)`: an empty array that BUILD fills; kept as an inert record with its state. */
export const NUMPY_RECONSTRUCT_SHIM: GlobalShim = {
  call(args, ctx) {
    const subtype = args[0];
    if (!(subtype instanceof PyGlobal) || subtype.fullName !== 'numpy.ndarray') throw ctx.badArgument('numpy _reconstruct', 'a subtype other than numpy.ndarray');
    return inert('numpy.ndarray', args);
  },
};
