import { resolveGlobal } from './globals.js';
import { Op as OPCODES } from './opcodes.js';
import type { PickleReader } from './reader.js';

// a module-local binding: the opcode switch reads it per case, and loaders may wrap imported bindings in getters
const Op = OPCODES;

/**
 * First pass over a pickle: find every global it names and refuse denied ones before any value is built, so a
 * hostile pickle is reported as unsafe even when the rest of it is also malformed. STACK_GLOBAL takes its names from
 * the stack; we follow the strings pushed (and memoized) just before it, which covers every pickler we know. The
 * second pass checks every global again through the same resolver, so nothing depends on this heuristic.
 *
 * Returns the offset just after STOP.
 */
export function scanGlobals(reader: PickleReader, strict: boolean): number {
  const denied: Error[] = [];
  const notAllowed: Error[] = [];
  const check = (module: string, name: string, at: number, op: number): void => {
    try {
      resolveGlobal(module, name, false, reader.where(at, op));
    } catch (e) {
      denied.push(e as Error);
      return;
    }
    if (!strict) return;
    try {
      resolveGlobal(module, name, true, reader.where(at, op));
    } catch (e) {
      notAllowed.push(e as Error);
    }
  };
  // the last two values pushed, as far as they are known strings
  let below: string | undefined;
  let top: string | undefined;
  const push = (value: string | undefined): void => {
    below = top;
    top = value;
  };
  const memoStrings = new Map<number, string>();
  let memoSize = 0;
  for (;;) {
    const { op, at, arg } = reader.next();
    if (op === Op.STOP) break;
    switch (op) {
      case Op.GLOBAL: case Op.INST: {
        const [module, name] = arg as readonly [string, string];
        check(module, name, at, op);
        push(undefined);
        break;
      }
      case Op.STACK_GLOBAL:
        if (below !== undefined && top !== undefined) check(below, top, at, op);
        push(undefined);
        break;
      case Op.STRING: case Op.UNICODE: case Op.SHORT_BINSTRING: case Op.BINSTRING: case Op.SHORT_BINUNICODE:
      case Op.BINUNICODE: case Op.BINUNICODE8:
        push(arg as string);
        break;
      case Op.BINPUT: case Op.LONG_BINPUT: case Op.PUT:
        if (top !== undefined) memoStrings.set(arg as number, top);
        else memoStrings.delete(arg as number);
        memoSize++;
        break;
      case Op.MEMOIZE:
        if (top !== undefined) memoStrings.set(memoSize, top);
        memoSize++;
        break;
      case Op.BINGET: case Op.LONG_BINGET: case Op.GET:
        push(memoStrings.get(arg as number));
        break;
      case Op.PROTO: case Op.FRAME:
        break;
      default:
        push(undefined);
    }
  }
  const first = denied[0] ?? notAllowed[0];
  if (first) throw first;
  return reader.pos;
}
