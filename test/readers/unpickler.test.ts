import { describe, expect, test } from 'vitest';
import { CorruptInputError, UnsafeInputError } from '../../src/errors.js';
import { PyGlobal, PyObject, type PyValue, unpickle, unpickleAt } from '../../src/readers/index.js';
import { pickle } from '../helpers/pickle-builder.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

// pickle.dumps({'a': [1, 2.5, None, True, 'xé'], 'b': (b'\x00\x01', 10**20, -5), 'c': {1, 2}, 'd': frozenset([3]),
//               'e': bytearray(b'ab')}, protocol=p) from CPython 3, one per protocol
const CPYTHON: Record<number, string> = {
  0: '286470300a56610a70310a286c70320a49310a6146322e350a614e614930310a615678e90a70330a617356620a70340a28635f636f646563730a656e636f64650a70350a28565c7530303030010a70360a566c6174696e310a70370a7470380a5270390a4c3130303030303030303030303030303030303030304c0a492d350a747031300a7356630a7031310a635f5f6275696c74696e5f5f0a7365740a7031320a28286c7031330a49310a6149320a61747031340a527031350a7356640a7031360a635f5f6275696c74696e5f5f0a66726f7a656e7365740a7031370a28286c7031380a49330a61747031390a527032300a7356650a7032310a635f5f6275696c74696e5f5f0a6279746561727261790a7032320a2867350a285661620a7032330a67370a747032340a527032350a747032360a527032370a732e',
  1: '7d71002858010000006171015d7102284b014740040000000000004e4930310a580300000078c3a9710365580100000062710428635f636f646563730a656e636f64650a71052858020000000001710658060000006c6174696e3171077471085271094c3130303030303030303030303030303030303030304c0a4afbffffff74710a580100000063710b635f5f6275696c74696e5f5f0a7365740a710c285d710d284b014b026574710e52710f5801000000647110635f5f6275696c74696e5f5f0a66726f7a656e7365740a7111285d71124b03617471135271145801000000657115635f5f6275696c74696e5f5f0a6279746561727261790a711628680528580200000061627117680774711852711974711a52711b752e',
  2: '80027d71002858010000006171015d7102284b014740040000000000004e88580300000078c3a97103655801000000627104635f636f646563730a656e636f64650a710558020000000001710658060000006c6174696e3171078671085271098a09000010632d5ec76b054afbffffff87710a580100000063710b635f5f6275696c74696e5f5f0a7365740a710c5d710d284b014b026585710e52710f5801000000647110635f5f6275696c74696e5f5f0a66726f7a656e7365740a71115d71124b03618571135271145801000000657115635f5f6275696c74696e5f5f0a6279746561727261790a71166805580200000061627117680786711852711985711a52711b752e',
  3: '80037d71002858010000006171015d7102284b014740040000000000004e88580300000078c3a971036558010000006271044302000171058a09000010632d5ec76b054afbffffff8771065801000000637107636275696c74696e730a7365740a71085d7109284b014b026585710a52710b580100000064710c636275696c74696e730a66726f7a656e7365740a710d5d710e4b036185710f5271105801000000657111636275696c74696e730a6279746561727261790a7112430261627113857114527115752e',
  4: '80049576000000000000007d94288c0161945d94284b014740040000000000004e888c0378c3a994658c01629443020001948a09000010632d5ec76b054afbffffff87948c0163948f94284b014b02908c016494284b0391948c0165948c086275696c74696e73948c09627974656172726179949394430261629485945294752e',
  5: '80059560000000000000007d94288c0161945d94284b014740040000000000004e888c0378c3a994658c01629443020001948a09000010632d5ec76b054afbffffff87948c0163948f94284b014b02908c016494284b0391948c016594960200000000000000616294752e',
};

describe('CPython pickles, protocols 0–5', () => {
  for (const [protocol, bytes] of Object.entries(CPYTHON)) {
    test(`protocol ${protocol} gives the same value`, () => {
      const v = unpickle(hex(bytes)) as Map<string, PyValue>;
      expect([...v.keys()]).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(v.get('a')).toEqual([1, 2.5, null, true, 'xé']);
      const b = v.get('b') as readonly PyValue[];
      expect(Object.isFrozen(b)).toBe(true);
      expect(b[0]).toEqual(Uint8Array.from([0, 1]));
      expect(b[1]).toBe(10n ** 20n);
      expect(b[2]).toBe(-5);
      expect(v.get('c')).toEqual(new Set([1, 2]));
      expect(v.get('d')).toEqual(new Set([3]));
      expect(v.get('e')).toEqual(new TextEncoder().encode('ab'));
    });
  }
});

describe('opcode families', () => {
  test('ints: BININT1/2, BININT (negative), LONG1 (small, negative, >2^53), LONG4, text INT/LONG', () => {
    const v = unpickle(
      pickle().proto(2).mark()
        .binint1(255).binint2(65535).binint(-7).long1(-1n).long1(2n ** 60n).long1(-(2n ** 63n)).long4(123456789012345678901234567890n)
        .long1(0n).intText('42').intText('-3').intText('00').intText('01').longText('99999999999999999999L').longText('-12')
        .tuple().done(),
    );
    expect(v).toEqual([255, 65535, -7, -1, 2n ** 60n, -(2n ** 63n), 123456789012345678901234567890n, 0, 42, -3, false, true, 99999999999999999999n, -12]);
  });

  test('LONG1 of the legacy torch magic number (10 bytes)', () => {
    expect(unpickle(pickle().proto(2).raw(0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19).done())).toBe(0x1950a86a20f9469cfc6cn);
  });

  test('floats: BINFLOAT and text FLOAT (incl. inf/nan/exponent)', () => {
    const v = unpickle(pickle().mark().binfloat(-0.1).floatText('1.5e-3').floatText('inf').floatText('-inf').floatText('nan').floatText('2').tuple().done()) as number[];
    expect(v.slice(0, 4)).toEqual([-0.1, 0.0015, Infinity, -Infinity]);
    expect(Number.isNaN(v[4])).toBe(true);
    expect(v[5]).toBe(2);
  });

  test('strings: BINUNICODE, SHORT_BINUNICODE, BINUNICODE8, BINSTRING, SHORT_BINSTRING, STRING escapes, UNICODE escapes', () => {
    const v = unpickle(
      pickle().mark().str('héllo').shortStr('ß').unicode8('∑').binstring('py2').shortBinstring('s')
        .stringText(String.raw`'a\'b\n\x41\\'`).stringText('"dq"').unicodeText(String.raw`caf\u00e9 \U0001F600`).tuple().done(),
    );
    expect(v).toEqual(['héllo', 'ß', '∑', 'py2', 's', "a'b\nA\\", 'dq', 'café 😀']);
  });

  test('bytes: BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8 + READONLY_BUFFER', () => {
    const v = unpickle(pickle().proto(5).mark().bytes([1, 2]).shortBytes([3]).bytes8([4, 5, 6]).bytearray8([7]).readonlyBuffer().tuple().done());
    expect(v).toEqual([Uint8Array.from([1, 2]), Uint8Array.from([3]), Uint8Array.from([4, 5, 6]), Uint8Array.from([7])]);
  });

  test('containers: TUPLE1/2/3, LIST, APPEND(S), DICT, SETITEM(S), EMPTY_SET + ADDITEMS, FROZENSET', () => {
    const v = unpickle(
      pickle().proto(4).mark()
        .none().tuple1().int(1).int(2).tuple2().int(1).int(2).int(3).tuple3()
        .mark().int(1).list().int(2).append().mark().int(3).int(4).appends()
        .mark().str('k').int(1).dict().str('k2').int(2).setitem().mark().str('k3').int(3).str('k4').int(4).setitems()
        .emptySet().mark().int(5).int(6).additems().mark().int(7).frozenset()
        .tuple().done(),
    ) as PyValue[];
    expect(v[0]).toEqual([null]);
    expect(v[1]).toEqual([1, 2]);
    expect(v[2]).toEqual([1, 2, 3]);
    expect(v[3]).toEqual([1, 2, 3, 4]);
    expect([...(v[4] as Map<string, number>)]).toEqual([['k', 1], ['k2', 2], ['k3', 3], ['k4', 4]]);
    expect(v[5]).toEqual(new Set([5, 6]));
    expect(v[6]).toEqual(new Set([7]));
  });

  test('stack ops: POP, POP_MARK, DUP; POP of a bare MARK', () => {
    expect(unpickle(pickle().int(1).int(2).pop().done())).toBe(1);
    expect(unpickle(pickle().int(9).mark().int(1).int(2).popMark().done())).toBe(9);
    expect(unpickle(pickle().emptyList().dup().tuple2().done())).toEqual([[], []]);
    expect(unpickle(pickle().int(3).mark().pop().done())).toBe(3);
  });

  test('memo: PUT/GET, BINPUT/BINGET, LONG_BINPUT/LONG_BINGET, MEMOIZE; shared references stay shared', () => {
    const v = unpickle(
      pickle().proto(4).frame(40).mark()
        .emptyList().memoize().str('x').put(7).str('y').binput(200).str('z').longBinput(70000)
        .binget(0).get(7).binget(200).longBinget(70000).tuple().done(),
    ) as PyValue[];
    expect(v.slice(1)).toEqual(['x', 'y', 'z', [], 'x', 'y', 'z']);
    expect(v[4]).toBe(v[0]);
  });

  test('a self-referencing list (cycle) is built without recursion', () => {
    const v = unpickle(pickle().emptyList().binput(0).binget(0).append().done()) as PyValue[];
    expect(v[0]).toBe(v);
  });

  test('GLOBAL / STACK_GLOBAL / INST / OBJ / NEWOBJ / NEWOBJ_EX of classes named by allowGlobals give inert records', () => {
    const allowGlobals = ['mypkg.mod.Thing', 'mypkg.mod.Other', 'mypkg.Legacy', 'mypkg.Obj', 'mypkg.Ex', 'mypkg.Plain'];
    const v = unpickle(
      pickle().proto(4).mark()
        .global('mypkg.mod', 'Thing').mark().int(1).tuple().reduce()
        .stackGlobal('mypkg.mod', 'Other').emptyTuple().newobj().emptyDict().str('a').int(1).setitem().build()
        .mark().int(2).inst('mypkg', 'Legacy')
        .mark().global('mypkg', 'Obj').int(3).obj()
        .global('mypkg', 'Ex').mark().int(4).tuple().emptyDict().newobjEx()
        .global('mypkg', 'Plain')
        .tuple().done(),
      { allowGlobals },
    ) as PyValue[];
    const [thing, other, legacy, obj, ex, plain] = v as [PyObject, PyObject, PyObject, PyObject, PyObject, PyGlobal];
    expect(thing).toBeInstanceOf(PyObject);
    expect([thing.className, thing.args]).toEqual(['mypkg.mod.Thing', [1]]);
    expect([other.className, other.state]).toEqual(['mypkg.mod.Other', new Map([['a', 1]])]);
    expect([legacy.className, legacy.args]).toEqual(['mypkg.Legacy', [2]]);
    expect([obj.className, obj.args]).toEqual(['mypkg.Obj', [3]]);
    expect([ex.className, ex.args]).toEqual(['mypkg.Ex', [4]]);
    expect(plain).toBeInstanceOf(PyGlobal);
    expect(plain.fullName).toBe('mypkg.Plain');
  });

  test('APPEND/SETITEM on inert records collect items and entries', () => {
    const v = unpickle(pickle().global('m', 'L').emptyTuple().newobj().int(1).append().str('k').int(2).setitem().done(), { allowGlobals: ['m.L'] }) as PyObject;
    expect(v.items).toEqual([1]);
    expect(v.entries).toEqual([['k', 2]]);
  });

  test('PERSID/BINPERSID go to persistentLoad, or become inert records without one', () => {
    const bytes = pickle().mark().persid('abc').mark().str('storage').int(1).tuple().binpersid().tuple().done();
    const seen: PyValue[] = [];
    expect(unpickle(bytes, { persistentLoad: (pid) => (seen.push(pid), 'loaded') })).toEqual(['loaded', 'loaded']);
    expect(seen).toEqual(['abc', ['storage', 1]]);
    const inert = unpickle(bytes) as PyObject[];
    expect(inert[0]!.className).toBe('persistent_id');
    expect(inert[0]!.args).toEqual(['abc']);
  });

  test('unpickleAt reads one pickle of several and reports where it ended', () => {
    const a = pickle().int(1).done();
    const b = pickle().str('two').done();
    const both = new Uint8Array([...a, ...b]);
    const first = unpickleAt(both);
    expect(first).toEqual({ value: 1, end: a.length });
    expect(unpickleAt(both, { offset: first.end })).toEqual({ value: 'two', end: both.length });
  });
});

describe('malformed pickles are CorruptInputErrors naming the offset', () => {
  const cases: Array<[string, Uint8Array, string, RegExp]> = [
    ['no STOP', pickle().int(1).toBytes(), 'E_PICKLE_TRUNCATED', /offset 2: pickle ended without STOP/],
    ['truncated BINUNICODE', pickle().raw(0x58, 10, 0, 0, 0, 0x61).toBytes(), 'E_PICKLE_TRUNCATED', /offset 0 \(BINUNICODE\): needs 10 more bytes/],
    ['negative BINSTRING length', pickle().raw(0x54, 0xff, 0xff, 0xff, 0xff).done(), 'E_PICKLE_BAD_LENGTH', /negative length -1/],
    ['huge BINBYTES8 length', pickle().raw(0x8e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f).done(), 'E_PICKLE_TRUNCATED', /BINBYTES8/],
    ['unknown opcode', pickle().raw(0xff).done(), 'E_PICKLE_BAD_OPCODE', /offset 0: unknown opcode 0xff/],
    ['protocol 6', pickle().proto(6).int(1).done(), 'E_PICKLE_PROTOCOL', /unsupported pickle protocol 6/],
    ['stack underflow', pickle().append().done(), 'E_PICKLE_STACK_UNDERFLOW', /offset 0 \(APPEND\)/],
    ['TUPLE without MARK', pickle().int(1).tuple().done(), 'E_PICKLE_NO_MARK', /offset 2 \(TUPLE\): needs a MARK/],
    ['GET of a missing memo key', pickle().binget(3).done(), 'E_PICKLE_MEMO', /memo key 3 was never stored/],
    ['APPEND to a dict', pickle().emptyDict().int(1).append().done(), 'E_PICKLE_BAD_APPEND', /not a list/],
    ['APPEND to a tuple', pickle().emptyTuple().int(1).append().done(), 'E_PICKLE_BAD_APPEND', /not a list/],
    ['SETITEM on a list', pickle().emptyList().int(1).int(2).setitem().done(), 'E_PICKLE_BAD_SETITEM', /not a dict/],
    ['odd SETITEMS', pickle().emptyDict().mark().int(1).setitems().done(), 'E_PICKLE_BAD_SETITEM', /key without a value/],
    ['BUILD on an int', pickle().int(1).emptyDict().build().done(), 'E_PICKLE_BAD_BUILD', /BUILD on a value/],
    ['REDUCE with non-tuple args', pickle().global('collections', 'OrderedDict').int(1).reduce().done(), 'E_PICKLE_BAD_REDUCE', /not a tuple/],
    ['NEXT_BUFFER', pickle().proto(5).nextBuffer().done(), 'E_PICKLE_OUT_OF_BAND', /out-of-band buffers/],
    ['invalid UTF-8', pickle().raw(0x8c, 2, 0xc3, 0x28).done(), 'E_PICKLE_BAD_STRING', /not valid UTF-8/],
    ['text INT garbage', pickle().intText('12x').done(), 'E_PICKLE_BAD_NUMBER', /not an integer/],
    ['text FLOAT garbage', pickle().floatText('1.2.3').done(), 'E_PICKLE_BAD_NUMBER', /not a float/],
    ['unquoted STRING', pickle().stringText('abc').done(), 'E_PICKLE_BAD_STRING', /not quoted/],
    ['FRAME longer than the rest', pickle().proto(4).frame(1000).int(1).done(), 'E_PICKLE_TRUNCATED', /frame of 1000 bytes/],
  ];
  for (const [name, bytes, code, message] of cases) {
    test(name, () => {
      let error: unknown;
      try {
        unpickle(bytes, { name: 'test.pkl' });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CorruptInputError);
      expect((error as CorruptInputError).code).toBe(code);
      expect((error as Error).message).toMatch(/^test\.pkl at offset \d+/);
      expect((error as Error).message).toMatch(message);
    });
  }

  test('STACK_GLOBAL of values that are not string literals is refused as unsafe (a computed name)', () => {
    expect(() => unpickle(pickle().proto(4).int(1).int(2).raw(0x93).done(), { name: 'test.pkl' })).toThrow(
      /test\.pkl at offset 6 \(STACK_GLOBAL\): STACK_GLOBAL takes its module and name from values made while loading/,
    );
  });

  test('EXT1/2/4 (extension registry) are refused as unsafe', () => {
    expect(() => unpickle(pickle().proto(2).ext1(1).done())).toThrow(UnsafeInputError);
    try {
      unpickle(pickle().proto(2).ext1(1).done());
    } catch (e) {
      expect((e as UnsafeInputError).code).toBe('E_PICKLE_EXTENSION');
      expect((e as Error).message).toMatch(/offset 2 \(EXT1\): the pickle uses the copyreg extension registry/);
    }
  });
});
