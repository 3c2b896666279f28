import { UnsafeInputError } from '../../errors.js';
import { type GlobalPolicy, type GlobalUseKind, resolveGlobal } from './globals.js';
import { Op as OPCODES } from './opcodes.js';
import type { PickleReader } from './reader.js';

// a module-local binding: the opcode switch reads it per case, and loaders may wrap imported bindings in getters
const Op = OPCODES;

/** One GLOBAL / STACK_GLOBAL / INST in the pickle, and the strongest use the pickle makes of it. */
interface GlobalSite {
  module: string;
  name: string;
  at: number;
  op: number;
  use: GlobalUseKind;
}

/** What the scan knows of a stack slot: a literal string, a global, an object a global made, or nothing. */
type Tag = { str: string } | { site: GlobalSite } | { made: GlobalSite } | null;

const STRENGTH: Record<GlobalUseKind, number> = { value: 0, construct: 1, call: 2, build: 3 };

function use(tag: Tag | undefined, how: GlobalUseKind): void {
  if (tag && 'site' in tag && STRENGTH[how] > STRENGTH[tag.site.use]) tag.site.use = how;
}

/**
 * First pass over a pickle: decide every global before any value is built, so a hostile pickle is reported as
 * unsafe (exit 3) even when the rest of it is also malformed, and nothing of it is ever interpreted.
 *
 * The pass follows the stack abstractly (string literals, globals, and what a global made; no values), so it knows
 * the exact operands of STACK_GLOBAL and what the pickle does with each global (calls it, constructs it, BUILDs on
 * it): the refusal says what `torch.load(weights_only=False)` would do. A STACK_GLOBAL whose operands are not string
 * literals (a computed name: `str('os')`) is refused too. Malformed stack use is tolerated here; the second pass
 * reports it as corruption. The second pass decides every global again through the same resolver.
 *
 * Returns the offset just after STOP.
 */
export function scanGlobals(reader: PickleReader, policy: GlobalPolicy): number {
  const stack: Tag[] = [];
  const marks: number[] = [];
  const memo = new Map<number, Tag>();
  const refused: Array<GlobalSite | UnsafeInputError> = [];

  const floor = (): number => (marks.length ? marks[marks.length - 1]! : 0);
  const pop = (): Tag => (stack.length > floor() ? stack.pop()! : null);
  const top = (): Tag => (stack.length > floor() ? stack[stack.length - 1]! : null);
  const popMark = (): Tag[] => {
    const mark = marks.pop();
    return mark === undefined ? [] : stack.splice(mark);
  };
  const site = (module: string, name: string, at: number, op: number, how: GlobalUseKind): GlobalSite => {
    const s: GlobalSite = { module, name, at, op, use: how };
    try {
      resolveGlobal(module, name, policy, reader.where(at, op));
    } catch (e) {
      if (!(e instanceof UnsafeInputError)) throw e;
      refused.push(s);
    }
    return s;
  };
  const refusal = (): Error | undefined => {
    const first = refused[0];
    if (first === undefined || first instanceof UnsafeInputError) return first;
    try {
      resolveGlobal(first.module, first.name, policy, reader.where(first.at, first.op), first.use);
    } catch (e) {
      return e as Error;
    }
    return undefined;
  };

  try {
    for (;;) {
      const { op, at, arg } = reader.next();
      if (op === Op.STOP) break;
      switch (op) {
        case Op.PROTO: case Op.FRAME: case Op.READONLY_BUFFER:
          break;
        case Op.MARK:
          marks.push(stack.length);
          break;
        case Op.POP:
          if (marks.length && marks[marks.length - 1] === stack.length) marks.pop();
          else pop();
          break;
        case Op.POP_MARK:
          popMark();
          break;
        case Op.DUP:
          stack.push(top());
          break;
        case Op.STRING: case Op.BINSTRING: case Op.SHORT_BINSTRING: case Op.UNICODE: case Op.BINUNICODE:
        case Op.SHORT_BINUNICODE: case Op.BINUNICODE8:
          stack.push({ str: arg as string });
          break;
        case Op.TUPLE: case Op.LIST: case Op.DICT: case Op.FROZENSET:
          popMark();
          stack.push(null);
          break;
        case Op.TUPLE1: case Op.TUPLE2: case Op.TUPLE3:
          for (let i = 0; i <= op - Op.TUPLE1; i++) pop();
          stack.push(null);
          break;
        case Op.APPEND:
          pop();
          break;
        case Op.SETITEM:
          pop();
          pop();
          break;
        case Op.APPENDS: case Op.SETITEMS: case Op.ADDITEMS:
          popMark();
          break;
        case Op.BINPERSID:
          pop();
          stack.push(null);
          break;
        case Op.PUT: case Op.BINPUT: case Op.LONG_BINPUT:
          memo.set(arg as number, top());
          break;
        case Op.MEMOIZE:
          memo.set(memo.size, top());
          break;
        case Op.GET: case Op.BINGET: case Op.LONG_BINGET:
          stack.push(memo.get(arg as number) ?? null);
          break;
        case Op.GLOBAL: {
          const [module, name] = arg as readonly [string, string];
          stack.push({ site: site(module, name, at, op, 'value') });
          break;
        }
        case Op.STACK_GLOBAL: {
          const name = pop();
          const module = pop();
          if (module && 'str' in module && name && 'str' in name) stack.push({ site: site(module.str, name.str, at, op, 'value') });
          else {
            refused.push(computedName(reader.where(at, op)));
            stack.push(null);
          }
          break;
        }
        case Op.INST: {
          const [module, name] = arg as readonly [string, string];
          popMark();
          stack.push({ made: site(module, name, at, op, 'call') });
          break;
        }
        case Op.OBJ: {
          const [cls] = popMark();
          use(cls, 'call');
          stack.push(cls && 'site' in cls ? { made: cls.site } : null);
          break;
        }
        case Op.REDUCE: {
          pop();
          const callable = pop();
          use(callable, 'call');
          stack.push(callable && 'site' in callable ? { made: callable.site } : null);
          break;
        }
        case Op.NEWOBJ: case Op.NEWOBJ_EX: {
          if (op === Op.NEWOBJ_EX) pop();
          pop();
          const cls = pop();
          use(cls, 'construct');
          stack.push(cls && 'site' in cls ? { made: cls.site } : null);
          break;
        }
        case Op.BUILD:
          pop();
          use(top(), 'build');
          break;
        default:
          stack.push(null); // every other opcode pushes one value (numbers, bytes, empty containers, PERSID, ...)
      }
    }
  } catch (e) {
    // a malformed or truncated pickle that also references an unsafe global is reported as unsafe
    throw refusal() ?? e;
  }
  const error = refusal();
  if (error) throw error;
  return reader.pos;
}

export function computedName(where: string): UnsafeInputError {
  return new UnsafeInputError(
    'E_PICKLE_UNSAFE_GLOBAL',
    `${where}: STACK_GLOBAL takes its module and name from values made while loading, not from string literals; PyTorch (torch.load weights_only=False) would import whatever they evaluate to. Refusing to read it`,
  );
}
