import { CorruptInputError } from '../../errors.js';
import { LazyTensor, TorchStorage } from '../lazy-tensor.js';
import { DEFAULT_LIMITS } from './limits.js';

/**
 * The JS shape of Python values read from a pickle (see docs/ARCHITECTURE.md):
 * None→null, bool, int→number (bigint beyond 2^53), float→number, str→string, bytes/bytearray→Uint8Array,
 * list→array, tuple→frozen array, dict-likes→Map, set/frozenset→Set, tensors→LazyTensor, anything else→PyObject.
 */
export type PyKey = PyValue;
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | readonly PyValue[]
  | Map<PyKey, PyValue>
  | Set<PyValue>
  | LazyTensor
  | TorchStorage
  | PyObject
  | PyGlobal;

/** An instance of a class we do not interpret: kept as inert data, never constructed. */
export class PyObject {
  /** `module.name` of the class or callable that produced it. */
  readonly className: string;
  /** Arguments of REDUCE / NEWOBJ, when it was built that way. */
  args: readonly PyValue[] | null;
  /** The BUILD (`__setstate__`) state, if any. */
  state: PyValue | undefined;
  /** Values APPENDed to it (list subclasses). */
  readonly items: PyValue[] = [];
  /** Key/value pairs SETITEM'd on it (dict subclasses). */
  readonly entries: Array<[PyKey, PyValue]> = [];
  constructor(className: string, args: readonly PyValue[] | null = null, state?: PyValue) {
    this.className = className;
    this.args = args;
    this.state = state;
  }
}

/** A reference to a global (`module.name`) that is only data: a class used as a value, a marker like `typing.Any`. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get fullName(): string {
    return `${this.module}.${this.name}`;
  }
}

const ATTRIBUTES = Symbol('python attributes');

/**
 * Attributes a BUILD set on a dict or list (e.g. the `_metadata` of a torch `state_dict()`), kept off the items.
 * Returns undefined when there are none.
 */
export function pyAttributes(value: PyValue): Map<string, PyValue> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  return (value as { [ATTRIBUTES]?: Map<string, PyValue> })[ATTRIBUTES];
}

export function setPyAttribute(target: object, name: string, value: PyValue): void {
  let attrs = (target as { [ATTRIBUTES]?: Map<string, PyValue> })[ATTRIBUTES];
  if (!attrs) {
    attrs = new Map();
    Object.defineProperty(target, ATTRIBUTES, { value: attrs, enumerable: false });
  }
  attrs.set(name, value);
}

export function isPyDict(value: unknown): value is Map<PyKey, PyValue> {
  return value instanceof Map;
}

/** Lists and tuples (tuples are frozen arrays). `Array.isArray` does not narrow readonly arrays, this does. */
export function isPySequence(value: unknown): value is readonly PyValue[] {
  return Array.isArray(value);
}

/**
 * Walk dict keys / list indices / PyObject state safely: `pyGet(root, 'cfg', 'model', 'encoder_layers')`.
 * Returns undefined as soon as a step does not exist (never throws).
 */
export function pyGet(value: PyValue | undefined, ...keys: Array<string | number>): PyValue | undefined {
  let current: PyValue | undefined = value;
  for (const key of keys) {
    if (current instanceof Map) current = current.get(key);
    else if (isPySequence(current) && typeof key === 'number') current = current[key];
    else if (current instanceof PyObject && current.state instanceof Map) current = current.state.get(key);
    else return undefined;
    if (current === undefined) return undefined;
  }
  return current;
}

export type PlainJson = null | boolean | number | string | PlainJson[] | { [key: string]: PlainJson };

/** Bounds for walking a value tree: its depth, and the number of values visited (shared references repeat). */
export interface WalkLimits {
  maxDepth: number;
  maxWalkSteps: number;
}

/** Counts the steps of one walk and refuses trees that are too deep or too large. */
export class WalkBudget {
  private steps = 0;
  constructor(private readonly limits: WalkLimits) {}
  step(depth: number, where: () => string): void {
    if (depth > this.limits.maxDepth) {
      throw new CorruptInputError('E_PICKLE_LIMIT', `value nesting at ${where()} is deeper than limits.maxDepth=${this.limits.maxDepth} (raise it if the file is trusted)`, {
        limit: 'maxDepth',
      });
    }
    if (++this.steps > this.limits.maxWalkSteps) {
      throw new CorruptInputError(
        'E_PICKLE_LIMIT',
        `walking the unpickled value visits more than limits.maxWalkSteps=${this.limits.maxWalkSteps} values (shared references expand it; raise the limit if the file is trusted)`,
        { limit: 'maxWalkSteps' },
      );
    }
  }
}

function keyString(key: PyValue): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'number' || typeof key === 'bigint' || typeof key === 'boolean' || key === null) return String(key);
  return JSON.stringify(toPlainJson(key));
}

/**
 * A JSON-safe view for reports and `inspect`: Maps→objects, tensors→`{tensor: dtype, shape}`, bigints→strings,
 * bytes→`{bytes: length}`, non-finite floats→strings, PyObjects→`{object: className, ...}`, cycles→`"<cycle>"`.
 */
export function toPlainJson(value: PyValue, limits: Partial<WalkLimits> = {}): PlainJson {
  const budget = new WalkBudget({ maxDepth: limits.maxDepth ?? DEFAULT_LIMITS.maxDepth, maxWalkSteps: limits.maxWalkSteps ?? DEFAULT_LIMITS.maxWalkSteps });
  const onPath = new Set<object>();
  const walk = (v: PyValue, depth: number): PlainJson => {
    budget.step(depth, () => `depth ${depth}`);
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
    if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return { bytes: v.byteLength };
    if (v instanceof LazyTensor) return { tensor: v.dtype, shape: [...v.shape] };
    if (v instanceof TorchStorage) return { storage: v.key, dtype: v.dtype, numel: v.numel };
    if (v instanceof PyGlobal) return { global: v.fullName };
    if (onPath.has(v)) return '<cycle>';
    onPath.add(v);
    try {
      if (isPySequence(v)) return v.map((x) => walk(x, depth + 1));
      if (v instanceof Set) return [...v].map((x) => walk(x, depth + 1));
      if (v instanceof Map) {
        const out: { [key: string]: PlainJson } = {};
        for (const [k, x] of v) out[keyString(k)] = walk(x, depth + 1);
        return out;
      }
      const out: { [key: string]: PlainJson } = { object: v.className };
      if (v.args) out.args = v.args.map((x) => walk(x, depth + 1));
      if (v.state !== undefined) out.state = walk(v.state, depth + 1);
      if (v.items.length) out.items = v.items.map((x) => walk(x, depth + 1));
      if (v.entries.length) out.entries = v.entries.map(([k, x]) => [walk(k, depth + 1), walk(x, depth + 1)]);
      return out;
    } finally {
      onPath.delete(v);
    }
  };
  return walk(value, 0);
}
