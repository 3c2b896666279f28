import { CorruptInputError, type ErrorCodeOf, UnsafeInputError } from '../../errors.js';
import { LazyTensor } from '../lazy-tensor.js';
import { DEFAULT_POLICY, type GlobalHandling, type GlobalPolicy, globalPolicy, resolveGlobal } from './globals.js';
import { type PickleLimits, resolveLimits } from './limits.js';
import { HIGHEST_PROTOCOL, Op as OPCODES, opName } from './opcodes.js';
import { type Instruction, PickleReader, refuseExtension } from './reader.js';
import { computedName, scanGlobals } from './scan.js';
import { type GlobalKind, type GlobalShim, type ShimContext, inert, stateMaps } from './shims.js';
import { PyGlobal, PyObject, type PyValue, setPyAttribute } from './values.js';

// a module-local binding: the opcode switch reads it per case, and loaders may wrap imported bindings in getters
const Op = OPCODES;

export interface GlobalUse {
  name: string;
  /** How often it was called or constructed (a global only used as a value, like `typing.Any`, counts once). */
  count: number;
  handling: GlobalHandling;
}

export interface UnpickleOptions {
  /**
   * Globals outside the allow-list to keep as inert records (`--allow-global`): full dotted names. Every other
   * global outside the allow-list is refused (E_PICKLE_UNSAFE_GLOBAL).
   */
  allowGlobals?: readonly string[];
  /** Accepted for compatibility and ignored: refusing every global outside the allow-list is now the default. */
  strict?: boolean;
  limits?: Partial<PickleLimits>;
  /** Names the pickle in messages, e.g. `model.pt:archive/data.pkl`. */
  name?: string;
  /** Where the pickle starts (a legacy torch file holds several in a row). */
  offset?: number;
  /** Turns a persistent id (PERSID/BINPERSID) into a value; without it, ids become inert `persistent_id` records. */
  persistentLoad?: (pid: PyValue, where: string) => PyValue;
  /** Global usage is added here (shared across the pickles of one file). */
  globals?: Map<string, GlobalUse>;
  warnings?: string[];
  /**
   * For streams that are not pure pickles (joblib writes each numpy array's raw bytes right after its wrapper's
   * BUILD): called after every BUILD with the built value and a bounded reader of the bytes that follow; it may read
   * them and return a value to replace the built one on the stack. Such a stream cannot be walked by the value-free
   * first pass (the raw sections' lengths come from values), so it is skipped; every global is still decided by the
   * same resolver when it is first loaded, before anything can use it, and shims stay data-only.
   */
  afterBuild?: (built: PyValue, raw: RawBytes) => PyValue | undefined;
}

/** Bytes between pickle opcodes, read by `afterBuild`: every read is bounds-checked (E_PICKLE_TRUNCATED). */
export interface RawBytes {
  /** Where the next read starts, for messages. */
  readonly where: string;
  read(n: number, what: string): Uint8Array;
}

export interface UnpickleResult {
  value: PyValue;
  /** Offset just after STOP. */
  end: number;
}

/** A MARK on the stack is remembered as the stack length at that point. */
class Machine implements ShimContext {
  private readonly stack: PyValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PyValue>();
  /** Placeholders made by a shim that has a BUILD hook. */
  private readonly builders = new WeakMap<object, GlobalShim>();
  /** Each distinct global is resolved once; its PyGlobal is shared and knows its shim. */
  private readonly resolved = new Map<string, { global: PyGlobal; shim: GlobalShim | null }>();
  private readonly shims = new WeakMap<PyGlobal, GlobalShim | null>();
  private readonly kinds = new WeakMap<PyGlobal, GlobalKind>();
  /** Nesting depth of containers that hold containers, tracked as values are inserted (deep values fail early). */
  private readonly depths = new WeakMap<object, number>();
  private objects = 0;
  private current: Instruction = { op: Op.STOP, at: 0, arg: null };
  readonly limits: PickleLimits;

  constructor(
    private readonly reader: PickleReader,
    private readonly options: UnpickleOptions,
    private readonly policy: GlobalPolicy,
  ) {
    this.limits = reader.limits;
  }

  get where(): string {
    return this.reader.where(this.current.at, this.current.op);
  }

  warn(message: string): void {
    this.options.warnings?.push(message);
  }

  allocate(n: number): void {
    this.objects += n;
    if (this.objects > this.limits.maxObjects) throw this.reader.limit('maxObjects', this.current.at, `${this.objects} values`);
  }

  globalKind(value: PyValue): GlobalKind | null {
    return value instanceof PyGlobal ? (this.kinds.get(value) ?? null) : null;
  }

  badArgument(global: string, why: string): Error {
    return new UnsafeInputError(
      'E_PICKLE_UNSAFE_ARGUMENT',
      `${this.where}: ${global} is given ${why}. Loading this file with PyTorch (torch.load weights_only=False) would pass that on; refusing to read it`,
      { global },
    );
  }

  /** A call or construction of something the allow-list does not let the pickle call this way. */
  private unsafeCall(what: string, how: string): UnsafeInputError {
    return new UnsafeInputError('E_PICKLE_UNSAFE_CALL', `${this.where}: the pickle ${how} ${what}; PyTorch (torch.load weights_only=False) would do so. Refusing to read it`);
  }

  private describe(value: PyValue): string {
    return value instanceof PyGlobal ? value.fullName : 'a value that is not a global (the result of an earlier call, a container or a constant)';
  }

  private corrupt(code: ErrorCodeOf<'corrupt'>, message: string): CorruptInputError {
    return this.reader.corrupt(code, this.current.at, this.current.op, message);
  }

  /** Record that `child` now sits inside `parent`; refuse nesting deeper than maxDepth. */
  private nest(parent: PyValue, children: readonly PyValue[]): void {
    if (typeof parent !== 'object' || parent === null) return;
    let depth = this.depths.get(parent) ?? 0;
    for (const child of children) {
      if (!(child instanceof Map || Array.isArray(child) || child instanceof Set || child instanceof PyObject)) continue;
      const d = (this.depths.get(child) ?? 0) + 1;
      if (d > depth) depth = d;
    }
    if (depth === 0) return;
    if (depth > this.limits.maxDepth) throw this.reader.limit('maxDepth', this.current.at, 'value nesting');
    this.depths.set(parent, depth);
  }

  private push(value: PyValue): void {
    if (this.stack.length >= this.limits.maxStackSize) throw this.reader.limit('maxStackSize', this.current.at, 'the stack');
    this.allocate(1);
    this.stack.push(value);
  }

  private pop(): PyValue {
    const floor = this.marks.length ? this.marks[this.marks.length - 1]! : 0;
    if (this.stack.length <= floor) throw this.corrupt('E_PICKLE_STACK_UNDERFLOW', 'pops from an empty stack');
    return this.stack.pop()!;
  }

  private top(): PyValue {
    const floor = this.marks.length ? this.marks[this.marks.length - 1]! : 0;
    if (this.stack.length <= floor) throw this.corrupt('E_PICKLE_STACK_UNDERFLOW', 'needs a value but the stack is empty');
    return this.stack[this.stack.length - 1]!;
  }

  /** Everything above the last MARK, in order; the mark is removed. */
  private popMark(): PyValue[] {
    const mark = this.marks.pop();
    if (mark === undefined) throw this.corrupt('E_PICKLE_NO_MARK', 'needs a MARK but there is none');
    return this.stack.splice(mark);
  }

  private global(module: string, name: string): PyGlobal {
    const key = `${module}\u0000${name}`;
    let resolved = this.resolved.get(key);
    if (!resolved) {
      const r = resolveGlobal(module, name, this.policy, this.where);
      resolved = { global: new PyGlobal(r.module, r.name), shim: r.shim };
      this.resolved.set(key, resolved);
      this.shims.set(resolved.global, r.shim);
      this.kinds.set(resolved.global, r.kind);
      const uses = this.options.globals;
      if (uses && !uses.has(r.fullName)) uses.set(r.fullName, { name: r.fullName, count: 0, handling: r.handling });
    }
    return resolved.global;
  }

  private used(global: PyGlobal): void {
    const use = this.options.globals?.get(global.fullName);
    if (use) use.count++;
  }

  /** Globals that were only loaded as values count once. */
  finishCounts(): void {
    for (const use of this.options.globals?.values() ?? []) if (use.count === 0) use.count = 1;
  }

  private shimOf(value: PyValue): GlobalShim | undefined {
    return value instanceof PyGlobal ? (this.shims.get(value) ?? undefined) : undefined;
  }

  private remember(shim: GlobalShim, value: PyValue): PyValue {
    if (shim.build && typeof value === 'object' && value !== null) this.builders.set(value, shim);
    return value;
  }

  /** REDUCE / INST / OBJ (and shims that call): only allowed globals that are not mere values may be called. */
  call(callable: PyValue, args: readonly PyValue[]): PyValue {
    if (!(callable instanceof PyGlobal)) throw this.unsafeCall(this.describe(callable), 'calls');
    if (this.kinds.get(callable) === 'value') throw this.unsafeCall(`${callable.fullName}, which the allow-list accepts only as a value`, 'calls');
    const shim = this.shimOf(callable);
    this.used(callable);
    if (shim?.call) return this.remember(shim, shim.call(args, this));
    if (shim?.create) return this.remember(shim, shim.create(args, this));
    return inert(callable.fullName, args);
  }

  /** NEWOBJ / NEWOBJ_EX (and copyreg helpers): only allowed classes (or --allow-global names) may be constructed. */
  construct(cls: PyValue, args: readonly PyValue[]): PyValue {
    const kind = this.globalKind(cls);
    if (!(cls instanceof PyGlobal) || (kind !== 'class' && kind !== 'user')) {
      throw this.unsafeCall(cls instanceof PyGlobal ? `${cls.fullName}, which the allow-list does not accept as a class` : this.describe(cls), 'constructs');
    }
    const shim = this.shimOf(cls);
    this.used(cls);
    if (shim?.create) return this.remember(shim, shim.create(args, this));
    if (shim?.call) return this.remember(shim, shim.call(args, this));
    return inert(cls.fullName, args);
  }

  /**
   * BUILD: Python calls the target's `__setstate__` or fills its `__dict__`. Every object here was made by an
   * allowed class (there is no other way to make one), whose entry says what BUILD does; BUILD on a global itself
   * would set attributes on that class or function for the whole program, and is refused.
   */
  private build(target: PyValue, state: PyValue): void {
    if (target instanceof PyGlobal) throw this.unsafeCall(`attributes on ${target.fullName} itself (BUILD on a class or function, which changes it for the whole program)`, 'sets');
    if (typeof target !== 'object' || target === null) throw this.corrupt('E_PICKLE_BAD_BUILD', 'BUILD on a value that has no state');
    this.nest(target, [state]);
    const shim = this.builders.get(target);
    if (shim?.build) return shim.build(target, state, this);
    if (target instanceof PyObject) {
      target.state = state;
      return;
    }
    if (Object.isFrozen(target)) throw this.corrupt('E_PICKLE_BAD_BUILD', 'BUILD on a tuple');
    if (target instanceof Map || Array.isArray(target) || target instanceof LazyTensor) {
      // e.g. the `_metadata` of a state_dict: attributes, kept off the items
      for (const attrs of stateMaps(state)) for (const [k, v] of attrs) setPyAttribute(target, String(k), v);
      return;
    }
    throw this.corrupt('E_PICKLE_BAD_BUILD', 'BUILD on a value that has no state');
  }

  private append(target: PyValue, items: PyValue[]): void {
    this.nest(target, items);
    if (Array.isArray(target) && !Object.isFrozen(target)) {
      for (const item of items) (target as PyValue[]).push(item);
    } else if (target instanceof PyObject) {
      for (const item of items) target.items.push(item);
    } else throw this.corrupt('E_PICKLE_BAD_APPEND', 'appends to a value that is not a list');
  }

  private setItems(target: PyValue, flat: PyValue[]): void {
    if (flat.length % 2) throw this.corrupt('E_PICKLE_BAD_SETITEM', 'has a key without a value');
    this.nest(target, flat);
    if (target instanceof Map) {
      for (let i = 0; i < flat.length; i += 2) target.set(flat[i]!, flat[i + 1]!);
    } else if (target instanceof PyObject) {
      for (let i = 0; i < flat.length; i += 2) target.entries.push([flat[i]!, flat[i + 1]!]);
    } else throw this.corrupt('E_PICKLE_BAD_SETITEM', 'sets items on a value that is not a dict');
  }

  private memoGet(key: number): PyValue {
    const value = this.memo.get(key);
    if (value === undefined) throw this.corrupt('E_PICKLE_MEMO', `memo key ${key} was never stored`);
    return value;
  }

  private memoPut(key: number): void {
    if (key >= this.limits.maxMemoSize || (this.memo.size >= this.limits.maxMemoSize && !this.memo.has(key))) {
      throw this.reader.limit('maxMemoSize', this.current.at, `memo key ${key}`);
    }
    this.memo.set(key, this.top());
  }

  private persistent(pid: PyValue): PyValue {
    const load = this.options.persistentLoad;
    return load ? load(pid, this.where) : inert('persistent_id', [pid]);
  }

  private rawBytes(): RawBytes {
    const reader = this.reader;
    const at = this.current.at;
    return {
      get where() {
        return reader.where(reader.pos);
      },
      read: (n, what) => {
        if (!Number.isSafeInteger(n) || n < 0 || n > reader.bytes.byteLength - reader.pos) {
          throw reader.corrupt('E_PICKLE_TRUNCATED', at, Op.BUILD, `${what} needs ${n} bytes after the BUILD but only ${reader.bytes.byteLength - reader.pos} remain (truncated file)`);
        }
        const out = reader.bytes.subarray(reader.pos, reader.pos + n);
        reader.pos += n;
        return out;
      },
    };
  }

  run(): UnpickleResult {
    for (;;) {
      const ins = this.reader.next();
      this.current = ins;
      const { op, arg } = ins;
      switch (op) {
        case Op.STOP: {
          const value = this.pop();
          this.finishCounts();
          return { value, end: this.reader.pos };
        }
        case Op.PROTO:
          if ((arg as number) > HIGHEST_PROTOCOL) throw this.corrupt('E_PICKLE_PROTOCOL', `unsupported pickle protocol ${arg as number}`);
          break;
        case Op.FRAME: case Op.READONLY_BUFFER:
          break; // frames only group opcodes; in-band buffers are already plain bytes
        case Op.NEXT_BUFFER:
          throw this.corrupt('E_PICKLE_OUT_OF_BAND', 'the pickle expects out-of-band buffers (protocol 5 buffer_callback), which a file cannot carry');
        case Op.EXT1: case Op.EXT2: case Op.EXT4:
          throw refuseExtension(this.reader, ins.at, op);
        case Op.MARK:
          if (this.marks.length >= this.limits.maxDepth) throw this.reader.limit('maxDepth', ins.at, 'MARK nesting');
          this.marks.push(this.stack.length);
          break;
        case Op.POP:
          if (this.marks.length && this.marks[this.marks.length - 1] === this.stack.length) this.marks.pop();
          else this.pop();
          break;
        case Op.POP_MARK:
          this.popMark();
          break;
        case Op.DUP:
          this.push(this.top());
          break;
        case Op.NONE:
          this.push(null);
          break;
        case Op.NEWTRUE:
          this.push(true);
          break;
        case Op.NEWFALSE:
          this.push(false);
          break;
        case Op.INT: case Op.LONG: case Op.BININT: case Op.BININT1: case Op.BININT2: case Op.LONG1: case Op.LONG4:
        case Op.FLOAT: case Op.BINFLOAT: case Op.STRING: case Op.BINSTRING: case Op.SHORT_BINSTRING: case Op.UNICODE:
        case Op.BINUNICODE: case Op.SHORT_BINUNICODE: case Op.BINUNICODE8:
          this.push(arg as PyValue);
          break;
        case Op.BINBYTES: case Op.SHORT_BINBYTES: case Op.BINBYTES8: case Op.BYTEARRAY8:
          this.push(new Uint8Array(arg as Uint8Array)); // a copy (also for Buffers): never keep the pickle alive through a view
          break;
        case Op.EMPTY_TUPLE:
          this.push(Object.freeze([]));
          break;
        case Op.TUPLE: {
          const items = this.popMark();
          this.nest(items, items);
          this.push(Object.freeze(items));
          break;
        }
        case Op.TUPLE1: case Op.TUPLE2: case Op.TUPLE3: {
          const n = op - Op.TUPLE1 + 1;
          const items: PyValue[] = [];
          for (let i = 0; i < n; i++) items.unshift(this.pop());
          this.nest(items, items);
          this.push(Object.freeze(items));
          break;
        }
        case Op.EMPTY_LIST:
          this.push([]);
          break;
        case Op.LIST: {
          const items = this.popMark();
          this.nest(items, items);
          this.push(items);
          break;
        }
        case Op.APPEND: {
          const value = this.pop();
          this.append(this.top(), [value]);
          break;
        }
        case Op.APPENDS: {
          const items = this.popMark();
          this.append(this.top(), items);
          break;
        }
        case Op.EMPTY_DICT:
          this.push(new Map());
          break;
        case Op.DICT: {
          const dict = new Map<PyValue, PyValue>();
          this.setItems(dict, this.popMark());
          this.push(dict);
          break;
        }
        case Op.SETITEM: {
          const value = this.pop();
          const key = this.pop();
          this.setItems(this.top(), [key, value]);
          break;
        }
        case Op.SETITEMS: {
          const flat = this.popMark();
          this.setItems(this.top(), flat);
          break;
        }
        case Op.EMPTY_SET:
          this.push(new Set());
          break;
        case Op.ADDITEMS: {
          const items = this.popMark();
          const target = this.top();
          if (!(target instanceof Set)) throw this.corrupt('E_PICKLE_BAD_APPEND', 'adds items to a value that is not a set');
          this.nest(target, items);
          for (const item of items) target.add(item);
          break;
        }
        case Op.FROZENSET: {
          const items = this.popMark();
          const set = new Set(items);
          this.nest(set, items);
          this.push(set);
          break;
        }
        case Op.GET: case Op.BINGET: case Op.LONG_BINGET:
          this.push(this.memoGet(arg as number));
          break;
        case Op.PUT: case Op.BINPUT: case Op.LONG_BINPUT:
          this.memoPut(arg as number);
          break;
        case Op.MEMOIZE:
          this.memoPut(this.memo.size);
          break;
        case Op.GLOBAL: {
          const [module, name] = arg as readonly [string, string];
          this.push(this.global(module, name));
          break;
        }
        case Op.STACK_GLOBAL: {
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') throw computedName(this.where);
          this.push(this.global(module, name));
          break;
        }
        case Op.INST: {
          const [module, name] = arg as readonly [string, string];
          const args = this.popMark();
          this.push(this.call(this.global(module, name), args));
          break;
        }
        case Op.OBJ: {
          const [cls, ...args] = this.popMark();
          if (cls === undefined) throw this.corrupt('E_PICKLE_STACK_UNDERFLOW', 'needs a class after the MARK');
          this.push(this.call(cls, args));
          break;
        }
        case Op.REDUCE: {
          const args = this.pop();
          const callable = this.pop();
          if (!Array.isArray(args)) throw this.corrupt('E_PICKLE_BAD_REDUCE', 'arguments are not a tuple');
          const result = this.call(callable, args as PyValue[]);
          this.nest(result, [args]);
          this.push(result);
          break;
        }
        case Op.NEWOBJ: {
          const args = this.pop();
          const cls = this.pop();
          if (!Array.isArray(args)) throw this.corrupt('E_PICKLE_BAD_REDUCE', 'arguments are not a tuple');
          const result = this.construct(cls, args as PyValue[]);
          this.nest(result, [args]);
          this.push(result);
          break;
        }
        case Op.NEWOBJ_EX: {
          this.pop(); // keyword arguments: no shim takes any
          const args = this.pop();
          const cls = this.pop();
          if (!Array.isArray(args)) throw this.corrupt('E_PICKLE_BAD_REDUCE', 'arguments are not a tuple');
          this.push(this.construct(cls, args as PyValue[]));
          break;
        }
        case Op.BUILD: {
          const state = this.pop();
          this.build(this.top(), state);
          if (this.options.afterBuild) {
            const replaced = this.options.afterBuild(this.top(), this.rawBytes());
            if (replaced !== undefined) this.stack[this.stack.length - 1] = replaced;
          }
          break;
        }
        case Op.PERSID:
          this.push(this.persistent(arg as string));
          break;
        case Op.BINPERSID:
          this.push(this.persistent(this.pop()));
          break;
        default:
          throw this.corrupt('E_PICKLE_BAD_OPCODE', `opcode ${opName(op)} is not handled`);
      }
    }
  }
}

/** Unpickle one pickle starting at `options.offset` (default 0); returns the value and where the pickle ended. */
export function unpickleAt(bytes: Uint8Array, options: UnpickleOptions = {}): UnpickleResult {
  const limits = resolveLimits(options.limits);
  const name = options.name ?? '<pickle>';
  const start = options.offset ?? 0;
  if (bytes.byteLength - start > limits.maxPickleBytes) {
    throw new CorruptInputError('E_PICKLE_LIMIT', `${name}: ${bytes.byteLength - start} bytes exceed limits.maxPickleBytes=${limits.maxPickleBytes}`, {
      limit: 'maxPickleBytes',
    });
  }
  const policy = options.allowGlobals ? globalPolicy(options.allowGlobals) : DEFAULT_POLICY;
  if (!options.afterBuild) scanGlobals(new PickleReader(bytes, start, name, limits), policy);
  return new Machine(new PickleReader(bytes, start, name, limits), options, policy).run();
}

/** Unpickle a whole pickle held in memory: for raw `.pkl` files and tests. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): PyValue {
  return unpickleAt(bytes, options).value;
}
