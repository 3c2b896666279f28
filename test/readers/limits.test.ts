import { describe, expect, test } from 'vitest';
import { CorruptInputError, UsageError } from '../../src/errors.js';
import { DEFAULT_LIMITS, type PickleLimits, readCheckpoint, toPlainJson, unpickle } from '../../src/readers/index.js';
import { pickle } from '../helpers/pickle-builder.js';

function limitError(bytes: Uint8Array, limits: Partial<PickleLimits> = {}): CorruptInputError {
  try {
    unpickle(bytes, { limits });
  } catch (e) {
    if (e instanceof CorruptInputError && e.code === 'E_PICKLE_LIMIT') return e;
    throw e;
  }
  throw new Error('expected E_PICKLE_LIMIT');
}

const nestedLists = (depth: number): Uint8Array => {
  const b = pickle().proto(2);
  for (let i = 0; i < depth; i++) b.emptyList();
  for (let i = 1; i < depth; i++) b.append();
  return b.done();
};

describe('PickleLimits', () => {
  test('documented defaults', () => {
    expect(DEFAULT_LIMITS).toEqual({
      maxDepth: 1000, maxStackSize: 1_000_000, maxMemoSize: 10_000_000, maxObjects: 50_000_000, maxBigIntBytes: 1024,
      maxTextNumberLength: 4300, maxPickleBytes: 2 ** 31 - 1, maxWalkSteps: 2_000_000,
    });
  });

  test('maxDepth: nested values (built iteratively, refused as soon as they get too deep)', () => {
    expect(limitError(nestedLists(1002)).message).toMatch(/value nesting exceeds limits\.maxDepth=1000/);
    expect(unpickle(nestedLists(999))).toBeInstanceOf(Array);
    expect(limitError(nestedLists(12), { maxDepth: 10 }).details.limit).toBe('maxDepth');
    // nesting through the memo keeps the stack flat
    const b = pickle().proto(2).emptyList().binput(0).pop();
    for (let i = 0; i < 1100; i++) b.mark().binget(0).list().binput(0).pop();
    expect(limitError(b.binget(0).done()).message).toMatch(/maxDepth=1000/);
  });

  test('maxDepth: MARK nesting', () => {
    const b = pickle();
    for (let i = 0; i < 11; i++) b.mark();
    expect(limitError(b.done(), { maxDepth: 10 }).message).toMatch(/MARK nesting exceeds limits\.maxDepth=10/);
  });

  test('maxDepth: deep values from a trusted-limit read are still refused when walked', () => {
    const bytes = nestedLists(1500);
    expect(() => readCheckpoint(bytes, { limits: { maxDepth: 2000 } })).not.toThrow();
    expect(() => readCheckpoint(bytes)).toThrow(/maxDepth=1000/);
  });

  test('maxWalkSteps: shared references that expand exponentially (L[i+1] = [L[i], L[i]]) cannot hang a walk', () => {
    const b = pickle().proto(2).emptyList().binput(0).pop();
    for (let i = 0; i < 60; i++) b.mark().binget(i).binget(i).list().binput(i + 1).pop();
    const bytes = b.binget(60).done();
    const started = performance.now();
    expect(() => readCheckpoint(bytes)).toThrow(/visits more than limits\.maxWalkSteps=2000000 values/);
    expect(() => toPlainJson(unpickle(bytes), { maxWalkSteps: 1000 })).toThrow(expect.objectContaining({ code: 'E_PICKLE_LIMIT' }));
    expect(performance.now() - started).toBeLessThan(2000);
    // a modest amount of sharing is fine
    expect(toPlainJson(unpickle(pickle().proto(2).emptyList().binput(0).binget(0).tuple2().done()))).toEqual([[], []]);
  });

  test('maxStackSize', () => {
    const b = pickle();
    for (let i = 0; i < 20; i++) b.none();
    expect(limitError(b.done(), { maxStackSize: 10 }).message).toMatch(/the stack exceeds limits\.maxStackSize=10/);
  });

  test('maxMemoSize: number of entries and key size', () => {
    const b = pickle().none();
    for (let i = 0; i < 6; i++) b.binput(i);
    expect(limitError(b.done(), { maxMemoSize: 5 }).message).toMatch(/maxMemoSize=5/);
    expect(limitError(pickle().none().longBinput(2 ** 31).done(), {}).message).toMatch(/memo key 2147483648 exceeds limits\.maxMemoSize/);
  });

  test('maxObjects, including containers copied by shims', () => {
    const b = pickle().mark();
    for (let i = 0; i < 20; i++) b.none();
    expect(limitError(b.tuple().done(), { maxObjects: 10 }).message).toMatch(/maxObjects=10/);
    const copies = pickle().proto(2).mark();
    for (let i = 0; i < 8; i++) copies.int(i);
    copies.list().binput(0).pop().mark();
    for (let i = 0; i < 10; i++) copies.global('builtins', 'list').binget(0).tuple1().reduce();
    expect(limitError(copies.tuple().done(), { maxObjects: 60 }).message).toMatch(/maxObjects=60/);
  });

  test('maxBigIntBytes: LONG1/LONG4 and decimal LONG/INT', () => {
    expect(unpickle(pickle().long4(2n ** 8000n).done(), { limits: { maxBigIntBytes: 1100 } })).toBe(2n ** 8000n);
    expect(limitError(pickle().long4(2n ** 8300n).done()).message).toMatch(/a 1038-byte integer exceeds limits\.maxBigIntBytes=1024/);
    expect(limitError(pickle().longText('9'.repeat(3000)).done()).message).toMatch(/3000-digit integer exceeds limits\.maxBigIntBytes/);
    expect(limitError(pickle().intText('9'.repeat(300)).done(), { maxBigIntBytes: 100 }).message).toMatch(/300-digit integer/);
  });

  test('maxTextNumberLength: text numbers and unterminated lines', () => {
    expect(limitError(pickle().floatText('1'.repeat(5000)).done()).message).toMatch(/at offset 0: a text number exceeds limits\.maxTextNumberLength=4300/);
    expect(limitError(pickle().raw(0x49, ...new Array(5000).fill(0x31)).toBytes()).message).toMatch(/a text number exceeds/);
    expect(() => unpickle(pickle().global('m'.repeat(5000), 'x').done())).toThrow(/module or name longer than 4096 bytes/);
  });

  test('maxPickleBytes', () => {
    expect(limitError(pickle().none().done(), { maxPickleBytes: 1 }).message).toMatch(/2 bytes exceed limits\.maxPickleBytes=1/);
  });

  test('limits must be positive integers', () => {
    expect(() => unpickle(pickle().none().done(), { limits: { maxDepth: 0 } })).toThrow(UsageError);
  });

  test('no quadratic paths: a 1 KiB LONG4, 200k APPENDS items and 100k SETITEMS pairs stay fast', () => {
    const started = performance.now();
    unpickle(pickle().long4(-(2n ** 8180n)).done());
    const list = pickle().emptyList().mark();
    for (let i = 0; i < 200_000; i++) list.binint1(i & 0xff);
    expect((unpickle(list.appends().done()) as number[]).length).toBe(200_000);
    const dict = pickle().emptyDict().mark();
    for (let i = 0; i < 100_000; i++) dict.binint(i).none();
    expect((unpickle(dict.setitems().done()) as Map<number, null>).size).toBe(100_000);
    expect(performance.now() - started).toBeLessThan(3000);
  });
});
