import { CorruptInputError } from '../../errors.js';
import { type GlobalShim, type ShimContext, inert, stateMaps } from './shims.js';
import { PyObject, type PyValue } from './values.js';

/** Shims for the Python standard library and numpy globals that checkpoints use. Keys are `module.name`. */

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

const dictShim: GlobalShim = { call: (args, ctx) => dictFrom(args[0], ctx), create: () => new Map() };
const setShim: GlobalShim = { call: (args, ctx) => new Set(iterableItems(args[0], ctx) ?? []), create: () => new Set() };

const reconstructor: GlobalShim = {
  // copyreg._reconstructor(cls, base, state): protocol 0/1 form of `cls.__new__(cls)`
  call: (args, ctx) => ctx.construct(args[0] ?? null, []),
};

export const PYTHON_SHIMS: Record<string, GlobalShim> = {
  'collections.OrderedDict': dictShim,
  'collections.defaultdict': { call: () => new Map(), create: () => new Map() },
  'collections.Counter': dictShim,
  'collections.deque': { call: (args, ctx) => iterableItems(args[0], ctx) ?? [], create: () => [] },
  'builtins.dict': dictShim,
  'builtins.list': { call: (args, ctx) => iterableItems(args[0], ctx) ?? [], create: () => [] },
  'builtins.tuple': { call: (args, ctx) => frozen(iterableItems(args[0], ctx) ?? []) },
  'builtins.set': setShim,
  'builtins.frozenset': setShim,
  'builtins.object': { call: () => inert('builtins.object'), create: () => inert('builtins.object') },
  'builtins.complex': { call: (args) => inert('builtins.complex', args) },
  'builtins.slice': { call: (args) => inert('builtins.slice', args) },
  'builtins.range': { call: (args) => inert('builtins.range', args) },
  'builtins.int': {},
  'builtins.float': {},
  'builtins.str': {},
  'builtins.bool': {},
  'builtins.bytes': {},
  'builtins.bytearray': {
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
  },
  'copyreg._reconstructor': reconstructor,
  'copyreg.__newobj__': { call: (args, ctx) => ctx.construct(args[0] ?? null, args.slice(1)) },
  'copyreg.__newobj_ex__': {
    call: (args, ctx) => ctx.construct(args[0] ?? null, Array.isArray(args[1]) ? (args[1] as PyValue[]) : []),
  },
  '_codecs.encode': {
    call(args, ctx) {
      const [text, encoding = 'utf-8'] = args;
      if (typeof text !== 'string' || typeof encoding !== 'string') return inert('_codecs.encode', args);
      return encodeText(text, encoding, ctx) ?? inert('_codecs.encode', args);
    },
  },
  'argparse.Namespace': DICT_OF_ATTRIBUTES,
  'typing.Any': {},
  'numpy.core.multiarray.scalar': { call: numpyScalar },
  'numpy._core.multiarray.scalar': { call: numpyScalar },
  'numpy.dtype': { call: (args) => inert('numpy.dtype', args) },
  'numpy.ndarray': {},
  'numpy.core.multiarray._reconstruct': { call: (args) => inert('numpy.ndarray', args) },
  'numpy._core.multiarray._reconstruct': { call: (args) => inert('numpy.ndarray', args) },
};
