import type { PickleLimits } from './limits.js';
import { PyObject, type PyValue } from './values.js';

/** What a shim may ask of the unpickler while it turns a call into data. */
export interface ShimContext {
  /** Where we are, for messages: `model.pt:data.pkl at offset 1234 (REDUCE)`. */
  readonly where: string;
  readonly limits: PickleLimits;
  /** Charge `n` created values against `limits.maxObjects` (for shims that copy containers). */
  allocate(n: number): void;
  /** `cls.__new__(cls, *args)` — what NEWOBJ does; used by copyreg helpers. */
  construct(cls: PyValue, args: readonly PyValue[]): PyValue;
  /** `callable(*args)` — what REDUCE does; used by pass-through rebuild functions. */
  call(callable: PyValue, args: readonly PyValue[]): PyValue;
  warn(message: string): void;
  /** How the allow-list lets a global value be used (see allow-list.ts); null when `value` is not a global. */
  globalKind(value: PyValue): GlobalKind | null;
  /** UnsafeInputError E_PICKLE_UNSAFE_ARGUMENT at the current opcode: `global` was given `why`. */
  badArgument(global: string, why: string): Error;
}

/**
 * How an allowed global may be used: a class (called or constructed: NEWOBJ, copyreg helpers), a function (called
 * only), a value (only passed around, never called: dtypes, storage types, `typing.Any`), or `user`: named by
 * `--allow-global`, kept as an inert record whichever way it is used.
 */
export type GlobalKind = 'class' | 'function' | 'value' | 'user';

/**
 * How one known global becomes data. Nothing is ever executed: each hook builds a plain value from the arguments the
 * pickle supplies. A shim with no hooks is a marker (a class or constant used only as a value, like `typing.Any`).
 */
export interface GlobalShim {
  /** REDUCE / INST / OBJ: `global(*args)`. */
  call?(args: readonly PyValue[], ctx: ShimContext): PyValue;
  /** NEWOBJ: `cls.__new__(cls, *args)`. Returns a mutable placeholder that `build` fills (it may be memoized already). */
  create?(args: readonly PyValue[], ctx: ShimContext): PyValue;
  /** BUILD (`__setstate__`) on a value this shim made: fill `target` in place. */
  build?(target: PyValue, state: PyValue, ctx: ShimContext): void;
}

/** A placeholder that stays an inert record: NEWOBJ gives it a class name, BUILD gives it its state. */
export const INERT_CLASS: GlobalShim = {};

export function inert(className: string, args: readonly PyValue[] | null = null): PyObject {
  return new PyObject(className, args);
}

/** `(dict_state, slot_state)` tuples and plain dicts both become a list of attribute maps. */
export function stateMaps(state: PyValue): Array<Map<PyValue, PyValue>> {
  if (state instanceof Map) return [state];
  if (Array.isArray(state) && state.length === 2) return state.filter((s): s is Map<PyValue, PyValue> => s instanceof Map);
  return [];
}
