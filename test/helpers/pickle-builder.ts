/**
 * A tiny hand-assembler of pickle bytes for tests: each method appends one opcode (with its argument) and returns
 * the builder, so a test reads like `pickletools.dis` output.
 */
export class PickleBuilder {
  private readonly out: number[] = [];

  raw(...bytes: number[]): this {
    for (const b of bytes) this.out.push(b & 0xff);
    return this;
  }
  /** Append many bytes without spreading them into arguments (large strings would overflow the call stack). */
  private all(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.out.push(bytes[i]! & 0xff);
    return this;
  }
  private u16(v: number): this {
    return this.raw(v, v >> 8);
  }
  private u32(v: number): this {
    return this.raw(v, v >>> 8, v >>> 16, v >>> 24);
  }
  private u64(v: number | bigint): this {
    const big = BigInt(v);
    for (let i = 0n; i < 8n; i++) this.raw(Number((big >> (8n * i)) & 0xffn));
    return this;
  }
  private text(s: string): this {
    return this.all(new TextEncoder().encode(s));
  }
  private line(s: string): this {
    return this.text(s).raw(0x0a);
  }

  proto(n: number): this { return this.raw(0x80, n); }
  frame(length: number): this { return this.raw(0x95).u64(length); }
  stop(): this { return this.raw(0x2e); }
  mark(): this { return this.raw(0x28); }
  pop(): this { return this.raw(0x30); }
  popMark(): this { return this.raw(0x31); }
  dup(): this { return this.raw(0x32); }
  none(): this { return this.raw(0x4e); }
  bool(v: boolean): this { return this.raw(v ? 0x88 : 0x89); }
  binint1(v: number): this { return this.raw(0x4b, v); }
  binint2(v: number): this { return this.raw(0x4d).u16(v); }
  binint(v: number): this { return this.raw(0x4a).u32(v >>> 0); }
  /** The smallest binary int opcode for `v` (LONG1 beyond int32). */
  int(v: number | bigint): this {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 256) return this.binint1(v);
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 65536) return this.binint2(v);
    if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) return this.binint(v);
    return this.long1(BigInt(v));
  }
  /** Two's-complement little-endian bytes of `v`, as Python's encode_long writes them. */
  static longBytes(v: bigint): number[] {
    if (v === 0n) return [];
    const bytes: number[] = [];
    let x = v;
    for (;;) {
      bytes.push(Number(x & 0xffn));
      x >>= 8n;
      const signBit = (bytes[bytes.length - 1]! & 0x80) !== 0;
      if ((x === 0n && !signBit) || (x === -1n && signBit)) break;
    }
    return bytes;
  }
  long1(v: bigint): this {
    const b = PickleBuilder.longBytes(v);
    return this.raw(0x8a, b.length, ...b);
  }
  long4(v: bigint): this {
    const b = PickleBuilder.longBytes(v);
    return this.raw(0x8b).u32(b.length).raw(...b);
  }
  binfloat(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    return this.raw(0x47, ...b);
  }
  /** Protocol 0 text forms. */
  intText(s: string): this { return this.raw(0x49).line(s); }
  longText(s: string): this { return this.raw(0x4c).line(s); }
  floatText(s: string): this { return this.raw(0x46).line(s); }
  stringText(quoted: string): this { return this.raw(0x53).line(quoted); }
  unicodeText(s: string): this { return this.raw(0x56).line(s); }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.raw(0x58).u32(b.length).all(b);
  }
  shortStr(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.raw(0x8c, b.length).all(b);
  }
  unicode8(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.raw(0x8d).u64(b.length).all(b);
  }
  binstring(s: string): this { return this.raw(0x54).u32(s.length).text(s); }
  shortBinstring(s: string): this { return this.raw(0x55, s.length).text(s); }
  bytes(b: number[]): this { return this.raw(0x42).u32(b.length).all(b); }
  shortBytes(b: number[]): this { return this.raw(0x43, b.length, ...b); }
  bytes8(b: number[]): this { return this.raw(0x8e).u64(b.length).all(b); }
  bytearray8(b: number[]): this { return this.raw(0x96).u64(b.length).raw(...b); }
  nextBuffer(): this { return this.raw(0x97); }
  readonlyBuffer(): this { return this.raw(0x98); }
  emptyTuple(): this { return this.raw(0x29); }
  tuple(): this { return this.raw(0x74); }
  tuple1(): this { return this.raw(0x85); }
  tuple2(): this { return this.raw(0x86); }
  tuple3(): this { return this.raw(0x87); }
  emptyList(): this { return this.raw(0x5d); }
  list(): this { return this.raw(0x6c); }
  append(): this { return this.raw(0x61); }
  appends(): this { return this.raw(0x65); }
  emptyDict(): this { return this.raw(0x7d); }
  dict(): this { return this.raw(0x64); }
  setitem(): this { return this.raw(0x73); }
  setitems(): this { return this.raw(0x75); }
  emptySet(): this { return this.raw(0x8f); }
  additems(): this { return this.raw(0x90); }
  frozenset(): this { return this.raw(0x91); }
  get(i: number): this { return this.raw(0x67).line(String(i)); }
  binget(i: number): this { return this.raw(0x68, i); }
  longBinget(i: number): this { return this.raw(0x6a).u32(i); }
  put(i: number): this { return this.raw(0x70).line(String(i)); }
  binput(i: number): this { return this.raw(0x71, i); }
  longBinput(i: number): this { return this.raw(0x72).u32(i); }
  memoize(): this { return this.raw(0x94); }
  global(module: string, name: string): this { return this.raw(0x63).line(module).line(name); }
  stackGlobal(module: string, name: string): this { return this.shortStr(module).shortStr(name).raw(0x93); }
  inst(module: string, name: string): this { return this.raw(0x69).line(module).line(name); }
  obj(): this { return this.raw(0x6f); }
  reduce(): this { return this.raw(0x52); }
  newobj(): this { return this.raw(0x81); }
  newobjEx(): this { return this.raw(0x92); }
  build(): this { return this.raw(0x62); }
  persid(id: string): this { return this.raw(0x50).line(id); }
  binpersid(): this { return this.raw(0x51); }
  ext1(code: number): this { return this.raw(0x82, code); }

  /** `collections.OrderedDict()` as torch writes it (REDUCE with no arguments). */
  orderedDict(): this { return this.global('collections', 'OrderedDict').emptyTuple().reduce(); }

  /**
   * `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())` with the storage as a zip-format
   * persistent id `('storage', torch.<storageClass>, key, 'cpu', numel)`.
   */
  tensor(t: { storageClass?: string; key: string; numel: number; offset?: number; shape: number[]; stride: number[] }): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', t.storageClass ?? 'FloatStorage').str(t.key).str('cpu').int(t.numel).tuple().binpersid();
    this.int(t.offset ?? 0);
    this.mark();
    for (const d of t.shape) this.int(d);
    this.tuple().mark();
    for (const s of t.stride) this.int(s);
    this.tuple().bool(false).orderedDict().tuple().reduce();
    return this;
  }

  toBytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
  /** The bytes with a STOP appended. */
  done(): Uint8Array {
    return this.stop().toBytes();
  }
}

export const pickle = (): PickleBuilder => new PickleBuilder();
