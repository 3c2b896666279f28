import { CorruptInputError, type ErrorCodeOf, UnsafeInputError } from '../../errors.js';
import type { PickleLimits } from './limits.js';
import { Op as OPCODES, opName } from './opcodes.js';

// a module-local binding: the opcode switch reads it per case, and loaders may wrap imported bindings in getters
const Op = OPCODES;

/** The decoded argument of one opcode (what pickletools calls its ArgumentDescriptor value). */
export type OpArg = null | boolean | number | bigint | string | Uint8Array | readonly [string, string];

export interface Instruction {
  op: number;
  /** Offset of the opcode byte, for messages. */
  at: number;
  arg: OpArg;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');
const MAX_NAME_LENGTH = 4096; // a GLOBAL module or name line

/**
 * Reads one instruction at a time from pickle bytes. Every length is checked against the bytes that remain before
 * anything is allocated; text numbers are length-capped; nothing is quadratic.
 */
export class PickleReader {
  pos: number;
  private readonly dv: DataView;

  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly name: string,
    readonly limits: PickleLimits,
  ) {
    this.pos = start;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  where(at: number, op?: number): string {
    return `${this.name} at offset ${at}${op === undefined ? '' : ` (${opName(op)})`}`;
  }

  corrupt(code: ErrorCodeOf<'corrupt'>, at: number, op: number | undefined, message: string): CorruptInputError {
    return new CorruptInputError(code, `${this.where(at, op)}: ${message}`, { offset: at });
  }

  limit(limit: keyof PickleLimits, at: number, what: string): CorruptInputError {
    return new CorruptInputError('E_PICKLE_LIMIT', `${this.where(at)}: ${what} exceeds limits.${limit}=${this.limits[limit]} (raise it if the file is trusted)`, {
      offset: at,
      limit,
    });
  }

  private need(n: number, at: number, op: number): void {
    if (n > this.bytes.byteLength - this.pos) {
      throw new CorruptInputError(
        'E_PICKLE_TRUNCATED',
        `${this.where(at, op)}: needs ${n} more bytes but only ${this.bytes.byteLength - this.pos} remain (truncated pickle)`,
        { offset: at },
      );
    }
  }

  private u8(at: number, op: number): number {
    this.need(1, at, op);
    return this.bytes[this.pos++]!;
  }
  private u16(at: number, op: number): number {
    this.need(2, at, op);
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  private i32(at: number, op: number): number {
    this.need(4, at, op);
    const v = this.dv.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private u32(at: number, op: number): number {
    this.need(4, at, op);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private u64(at: number, op: number): number {
    this.need(8, at, op);
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    // anything beyond 2^53 is larger than any input we can hold; need() below will refuse it
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }
  private take(n: number, at: number, op: number): Uint8Array {
    if (n < 0) throw this.corrupt('E_PICKLE_BAD_LENGTH', at, op, `negative length ${n}`);
    this.need(n, at, op);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /**
   * A `\n`-terminated line (without the newline). Text numbers are capped by limits.maxTextNumberLength, global
   * names by MAX_NAME_LENGTH, strings only by the bytes that remain. The newline search never looks past the cap.
   */
  private line(at: number, op: number, cap: 'number' | 'name' | 'text'): string {
    const max = cap === 'number' ? this.limits.maxTextNumberLength : cap === 'name' ? MAX_NAME_LENGTH : this.bytes.byteLength;
    const window = this.bytes.subarray(this.pos, Math.min(this.bytes.byteLength, this.pos + max + 1));
    const length = window.indexOf(0x0a);
    if (length < 0 && window.byteLength > max) {
      if (cap === 'number') throw this.limit('maxTextNumberLength', at, 'a text number');
      throw this.corrupt('E_PICKLE_BAD_GLOBAL', at, op, `module or name longer than ${MAX_NAME_LENGTH} bytes`);
    }
    if (length < 0) throw this.corrupt('E_PICKLE_TRUNCATED', at, op, 'text argument has no terminating newline (truncated pickle)');
    const text = latin1.decode(window.subarray(0, length));
    this.pos += length + 1;
    return text;
  }
  private utf8(bytes: Uint8Array, at: number, op: number): string {
    try {
      return utf8.decode(bytes);
    } catch {
      throw this.corrupt('E_PICKLE_BAD_STRING', at, op, 'string is not valid UTF-8');
    }
  }

  /** Two's-complement little-endian integer of LONG1/LONG4, decoded in linear time. */
  private long(n: number, at: number, op: number): number | bigint {
    if (n > this.limits.maxBigIntBytes) throw this.limit('maxBigIntBytes', at, `a ${n}-byte integer`);
    const b = this.take(n, at, op);
    if (n === 0) return 0;
    if (n <= 6) {
      let v = 0;
      for (let i = n - 1; i >= 0; i--) v = v * 256 + b[i]!;
      return b[n - 1]! & 0x80 ? v - 2 ** (8 * n) : v;
    }
    let hex = '';
    for (let i = n - 1; i >= 0; i--) hex += b[i]!.toString(16).padStart(2, '0');
    let v = BigInt(`0x${hex}`);
    if (b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return narrow(v);
  }

  private textInt(at: number, op: number): boolean | number | bigint {
    let text = this.line(at, op, 'number');
    if (op === Op.INT && text === '00') return false;
    if (op === Op.INT && text === '01') return true;
    if (op === Op.LONG && text.endsWith('L')) text = text.slice(0, -1);
    if (!/^[+-]?\d+$/.test(text)) throw this.corrupt('E_PICKLE_BAD_NUMBER', at, op, `not an integer: ${JSON.stringify(text.slice(0, 40))}`);
    if (text.length > this.limits.maxBigIntBytes * 2.5) throw this.limit('maxBigIntBytes', at, `a ${text.length}-digit integer`);
    return narrow(BigInt(text));
  }

  private textFloat(at: number, op: number): number {
    const text = this.line(at, op, 'number').trim();
    if (/^[+-]?inf(inity)?$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
    if (/^[+-]?nan$/i.test(text)) return NaN;
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw this.corrupt('E_PICKLE_BAD_NUMBER', at, op, `not a float: ${JSON.stringify(text.slice(0, 40))}`);
    return Number(text);
  }

  /** Protocol-0 STRING: a Python repr, quoted, with backslash escapes. */
  private quotedString(at: number, op: number): string {
    const raw = this.line(at, op, 'text');
    const q = raw[0];
    if (raw.length < 2 || (q !== "'" && q !== '"') || raw[raw.length - 1] !== q) {
      throw this.corrupt('E_PICKLE_BAD_STRING', at, op, 'STRING argument is not quoted');
    }
    const body = raw.slice(1, -1);
    const out: number[] = [];
    const simple: Record<string, number> = { n: 10, t: 9, r: 13, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11, '0': 0 };
    for (let i = 0; i < body.length; i++) {
      const c = body.charCodeAt(i);
      if (c !== 92 || i + 1 >= body.length) {
        out.push(c);
        continue;
      }
      const e = body[++i]!;
      if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
        out.push(parseInt(body.slice(i + 1, i + 3), 16));
        i += 2;
      } else if (/[0-7]/.test(e)) {
        const m = /^[0-7]{1,3}/.exec(body.slice(i))![0];
        out.push(parseInt(m, 8) & 0xff);
        i += m.length - 1;
      } else if (e in simple) out.push(simple[e]!);
      else out.push(92, e.charCodeAt(0));
    }
    const bytes = Uint8Array.from(out);
    try {
      return utf8.decode(bytes);
    } catch {
      return latin1.decode(bytes);
    }
  }

  /** Protocol-0 UNICODE: raw-unicode-escape (latin-1 with \uXXXX and \UXXXXXXXX). */
  private rawUnicode(at: number, op: number): string {
    const raw = this.line(at, op, 'text');
    return raw.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, u4: string | undefined, u8: string | undefined) => {
      const code = parseInt((u4 ?? u8)!, 16);
      if (code > 0x10ffff) throw this.corrupt('E_PICKLE_BAD_STRING', at, op, `invalid code point \\U${u8}`);
      return String.fromCodePoint(code);
    });
  }

  private globalName(at: number, op: number): readonly [string, string] {
    const module = this.line(at, op, 'name');
    const name = this.line(at, op, 'name');
    return [module, name];
  }

  /** Read the next opcode and its argument. */
  next(): Instruction {
    const at = this.pos;
    if (at >= this.bytes.byteLength) {
      throw new CorruptInputError('E_PICKLE_TRUNCATED', `${this.where(at)}: pickle ended without STOP (truncated pickle)`, { offset: at });
    }
    const op = this.bytes[this.pos++]!;
    return { op, at, arg: this.argument(op, at) };
  }

  private argument(op: number, at: number): OpArg {
    switch (op) {
      case Op.PROTO: case Op.BININT1: case Op.BINGET: case Op.BINPUT: case Op.EXT1:
        return this.u8(at, op);
      case Op.BININT2: case Op.EXT2:
        return this.u16(at, op);
      case Op.BININT: case Op.EXT4:
        return this.i32(at, op);
      case Op.LONG_BINGET: case Op.LONG_BINPUT:
        return this.u32(at, op);
      case Op.FRAME: {
        const n = this.u64(at, op);
        if (n > this.bytes.byteLength - this.pos) throw this.corrupt('E_PICKLE_TRUNCATED', at, op, `frame of ${n} bytes is longer than the rest of the pickle`);
        return n;
      }
      case Op.BINFLOAT: {
        this.need(8, at, op);
        const v = this.dv.getFloat64(this.pos, false);
        this.pos += 8;
        return v;
      }
      case Op.INT: case Op.LONG:
        return this.textInt(at, op);
      case Op.FLOAT:
        return this.textFloat(at, op);
      case Op.GET: case Op.PUT: {
        const text = this.line(at, op, 'number');
        if (!/^\d+$/.test(text)) throw this.corrupt('E_PICKLE_BAD_NUMBER', at, op, `memo key is not a number: ${JSON.stringify(text.slice(0, 40))}`);
        return Number(text);
      }
      case Op.STRING:
        return this.quotedString(at, op);
      case Op.UNICODE:
        return this.rawUnicode(at, op);
      case Op.PERSID:
        return this.line(at, op, 'text');
      case Op.GLOBAL: case Op.INST:
        return this.globalName(at, op);
      case Op.SHORT_BINSTRING:
        return this.bytesAsString(this.take(this.u8(at, op), at, op));
      case Op.BINSTRING:
        return this.bytesAsString(this.take(this.i32(at, op), at, op));
      case Op.SHORT_BINBYTES:
        return this.take(this.u8(at, op), at, op);
      case Op.BINBYTES:
        return this.take(this.u32(at, op), at, op);
      case Op.BINBYTES8: case Op.BYTEARRAY8:
        return this.take(this.u64(at, op), at, op);
      case Op.SHORT_BINUNICODE:
        return this.utf8(this.take(this.u8(at, op), at, op), at, op);
      case Op.BINUNICODE:
        return this.utf8(this.take(this.u32(at, op), at, op), at, op);
      case Op.BINUNICODE8:
        return this.utf8(this.take(this.u64(at, op), at, op), at, op);
      case Op.LONG1:
        return this.long(this.u8(at, op), at, op);
      case Op.LONG4:
        return this.long(this.i32(at, op), at, op);
      case Op.MARK: case Op.STOP: case Op.POP: case Op.POP_MARK: case Op.DUP: case Op.NONE: case Op.BINPERSID:
      case Op.REDUCE: case Op.APPEND: case Op.BUILD: case Op.DICT: case Op.EMPTY_DICT: case Op.APPENDS: case Op.LIST:
      case Op.EMPTY_LIST: case Op.OBJ: case Op.SETITEM: case Op.TUPLE: case Op.EMPTY_TUPLE: case Op.SETITEMS:
      case Op.NEWOBJ: case Op.TUPLE1: case Op.TUPLE2: case Op.TUPLE3: case Op.NEWTRUE: case Op.NEWFALSE:
      case Op.EMPTY_SET: case Op.ADDITEMS: case Op.FROZENSET: case Op.NEWOBJ_EX: case Op.STACK_GLOBAL: case Op.MEMOIZE:
      case Op.NEXT_BUFFER: case Op.READONLY_BUFFER:
        return null;
      default:
        throw this.corrupt('E_PICKLE_BAD_OPCODE', at, undefined, `unknown opcode 0x${op.toString(16).padStart(2, '0')} (not a pickle, or corrupt)`);
    }
  }

  /** Python 2 `str` (BINSTRING): torch.load decodes these as UTF-8; fall back to latin-1 for binary content. */
  private bytesAsString(bytes: Uint8Array): string {
    try {
      return utf8.decode(bytes);
    } catch {
      return latin1.decode(bytes);
    }
  }
}

/** A bigint that fits a double exactly becomes a number. */
export function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

export function refuseExtension(reader: PickleReader, at: number, op: number): UnsafeInputError {
  return new UnsafeInputError(
    'E_PICKLE_EXTENSION',
    `${reader.where(at, op)}: the pickle uses the copyreg extension registry, which resolves globals we cannot check; refusing to read it`,
    { offset: at },
  );
}
