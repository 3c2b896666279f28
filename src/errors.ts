/**
 * Typed errors with stable codes. Every error the tool raises on purpose is a HubertConvertError; its `kind` decides
 * the CLI exit code, its `code` is a stable identifier for tests and machines, and its message says what is wrong,
 * where, and (when there is one) how to fix it. The codes, with the kind each is raised with, are listed in
 * ./error-codes.ts; each class accepts only the codes listed with its kind.
 */
import type { ErrorCode, ErrorCodeOf } from './error-codes.js';

// types only: errors.ts stays a module with no imports at run time (children compile it alone, test/safetensors/atomic.test.ts)
export type { ErrorCode, ErrorCodeEntry, ErrorCodeOf } from './error-codes.js';

export type ErrorKind =
  | 'usage' // the command line or API call is wrong
  | 'unsafe' // the input asks for code execution or something outside the allow-list
  | 'corrupt' // the input is damaged, truncated or not the format it claims
  | 'unsupported' // a valid file we cannot convert (unknown model kind, head HF cannot represent)
  | 'verification' // a verification check failed
  | 'io' // the file system said no (missing file, output exists, permission)
  | 'internal'; // a bug in hubert-convert

/** Exit codes of the CLI, one per error kind. Documented in the README. */
export const EXIT_CODES: Readonly<Record<ErrorKind | 'ok', number>> = {
  ok: 0,
  verification: 1,
  usage: 2,
  unsafe: 3,
  corrupt: 4,
  unsupported: 5,
  io: 6,
  internal: 70,
};

export class HubertConvertError extends Error {
  readonly kind: ErrorKind;
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(kind: ErrorKind, code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.kind = kind;
    this.code = code;
    this.details = details;
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

export class UsageError extends HubertConvertError {
  constructor(code: ErrorCodeOf<'usage'>, message: string, details?: Record<string, unknown>) {
    super('usage', code, message, details);
  }
}

/** The input asked for something that could run code, or is outside the strict allow-list. */
export class UnsafeInputError extends HubertConvertError {
  constructor(code: ErrorCodeOf<'unsafe'>, message: string, details?: Record<string, unknown>) {
    super('unsafe', code, message, details);
  }
}

export class CorruptInputError extends HubertConvertError {
  constructor(code: ErrorCodeOf<'corrupt'>, message: string, details?: Record<string, unknown>) {
    super('corrupt', code, message, details);
  }
}

export class UnsupportedModelError extends HubertConvertError {
  constructor(code: ErrorCodeOf<'unsupported'>, message: string, details?: Record<string, unknown>) {
    super('unsupported', code, message, details);
  }
}

export class VerificationError extends HubertConvertError {
  constructor(code: ErrorCodeOf<'verification'>, message: string, details?: Record<string, unknown>) {
    super('verification', code, message, details);
  }
}

export class FileSystemError extends HubertConvertError {
  constructor(code: ErrorCodeOf<'io'>, message: string, details?: Record<string, unknown>) {
    super('io', code, message, details);
  }
}
