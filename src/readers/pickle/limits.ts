import { UsageError } from '../../errors.js';

/**
 * Bounds the unpickler enforces against hostile input. Every limit fails with a CorruptInputError
 * (code E_PICKLE_LIMIT) that names the limit, so a caller who trusts a file can raise just that one.
 */
export interface PickleLimits {
  /** Nesting of MARKs, and of values when they are walked afterwards (toPlainJson, tensor collection, shims). */
  maxDepth: number;
  /** Values on the stack at one time. */
  maxStackSize: number;
  /** Entries in the memo (PUT/MEMOIZE). The memo key itself must also stay below this. */
  maxMemoSize: number;
  /** Containers, objects, strings and numbers created in one pickle. */
  maxObjects: number;
  /** Size of one LONG1/LONG4 integer in bytes (and the digit count of a protocol-0 LONG / 2.4). */
  maxBigIntBytes: number;
  /** Length of a protocol-0 text number (INT, LONG, FLOAT) line. */
  maxTextNumberLength: number;
  /** Size of one pickle stream (data.pkl, or one pickle of a legacy file). */
  maxPickleBytes: number;
  /**
   * Values visited when the result is walked (tensor collection, toPlainJson). Shared references can make a small
   * pickle describe an exponentially large tree (`L1 = [L0, L0]`, `L2 = [L1, L1]`, ...); this bounds the walk.
   */
  maxWalkSteps: number;
}

export const DEFAULT_LIMITS: Readonly<PickleLimits> = Object.freeze({
  maxDepth: 1000,
  maxStackSize: 1_000_000,
  maxMemoSize: 10_000_000,
  maxObjects: 50_000_000,
  maxBigIntBytes: 1024,
  maxTextNumberLength: 4300, // CPython's default int_max_str_digits
  maxPickleBytes: 2 ** 31 - 1,
  maxWalkSteps: 2_000_000,
});

export function resolveLimits(overrides: Partial<PickleLimits> = {}): PickleLimits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new UsageError('E_USAGE_PICKLE_LIMIT', `pickle limit ${key} must be a positive integer, got ${String(value)}`);
  }
  return limits;
}
