/** Unit tests of the resource rules: distinct elements, bounded JSON, bounded conv_feature_layers, element counts. */
import { describe, expect, test } from 'vitest';
import { BufferSource } from '../../src/byte-source.js';
import { CorruptInputError, HubertConvertError, UnsupportedModelError } from '../../src/errors.js';
import { parseConvFeatureLayers } from '../../src/mappings/conv-layers.js';
import { parseBoundedJson } from '../../src/readers/json-bounded.js';
import { LazyTensor, TorchStorage, checkDistinctElements, viewRepeats } from '../../src/readers/lazy-tensor.js';
import { MemoryTensor, checkedNumel, toFloat32 } from '../../src/tensor.js';

function storage(numel: number, key = '0'): TorchStorage {
  const s = new TorchStorage(key, 'F32', numel, 'cpu');
  s.bind(new BufferSource(new Uint8Array(numel * 4), `mem${key}`), 0);
  return s;
}

function codeOf(fn: () => void): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (!(e instanceof HubertConvertError)) throw e;
    return e.code;
  }
}

describe('viewRepeats: exactly the views whose elements share bytes', () => {
  test.each([
    [[4, 4], [4, 1], null],
    [[4, 4], [1, 4], null], // transposed
    [[2, 3, 4], [1, 8, 2], null], // permuted
    [[3, 2], [2, 3], null], // interleaved, distinct offsets 0 3 2 5 4 7: fails the sorted test, passes the exact one
    [[1, 5], [0, 1], null], // stride 0 on a size-1 dimension is harmless
    [[0, 5], [0, 0], null],
    [[4, 4], [0, 1], 'broadcast'],
    [[10 ** 6, 10 ** 6], [0, 0], 'broadcast'],
    [[64, 32], [1, 1], 'overlap'],
    [[3, 3], [2, 3], null], // offsets i*2 + j*3 = 0 3 6 2 5 8 4 7 10: distinct, decided by the exact check
  ] as const)('shape %j strides %j → %s', (shape, strides, want) => {
    expect(viewRepeats(shape, strides)?.kind ?? null).toBe(want);
  });

  test('an overlap found by the exact check', () => {
    // offsets i*2 + j*3, i < 4, j < 3: 0+6 = 6 = 3*2 + 0 → overlap
    expect(viewRepeats([4, 3], [2, 3])?.kind).toBe('overlap');
  });
});

describe('checkDistinctElements', () => {
  test('narrowed views of one packed storage (q/k/v) pass; two views sharing bytes do not', () => {
    const s = storage(48);
    const q = new LazyTensor(s, 'F32', [4, 4], [4, 1], 0);
    const k = new LazyTensor(s, 'F32', [4, 4], [4, 1], 16);
    const v = new LazyTensor(s, 'F32', [4, 4], [4, 1], 32);
    expect(codeOf(() => checkDistinctElements([['q', q], ['k', k], ['v', v]]))).toBeNull();
    const shifted = new LazyTensor(s, 'F32', [4, 4], [4, 1], 8);
    expect(codeOf(() => checkDistinctElements([['q', q], ['x', shifted]]))).toBe('E_TENSOR_OVERLAP');
  });

  test('interleaved views (even and odd elements) share a span but no bytes', () => {
    const s = storage(16);
    const even = new LazyTensor(s, 'F32', [8], [2], 0);
    const odd = new LazyTensor(s, 'F32', [8], [2], 1);
    expect(codeOf(() => checkDistinctElements([['even', even], ['odd', odd]]))).toBeNull();
    const again = new LazyTensor(s, 'F32', [4], [4], 0);
    expect(codeOf(() => checkDistinctElements([['even', even], ['odd', odd], ['again', again]]))).toBe('E_TENSOR_OVERLAP');
  });

  test('a broadcast view is refused naming the tensor and the rule; memory tensors pass', () => {
    const t = new LazyTensor(storage(768), 'F32', [768, 768], [0, 1], 0);
    expect(() => checkDistinctElements([['w', t]])).toThrow(/tensor w: F32\[768, 768\] with strides \[0, 1\] is a broadcast view/);
    expect(() => checkDistinctElements([['w', t]])).toThrow(CorruptInputError);
    expect(codeOf(() => checkDistinctElements([['m', MemoryTensor.fromFloat32([2], new Float32Array(2))]]))).toBeNull();
  });
});

describe('element counts: checked before any array is made', () => {
  test('checkedNumel refuses counts past 2^53 bytes', () => {
    expect(checkedNumel([10 ** 6, 10 ** 6], 4)).toBe(10 ** 12);
    expect(checkedNumel([2 ** 30, 2 ** 30, 2 ** 30], 1)).toBeNull();
    expect(checkedNumel([2 ** 30, 0, 2 ** 30], 1)).toBe(0);
  });

  test('a 10^12-element view as float32 is a typed error, not a RangeError', () => {
    const t = new LazyTensor(storage(1), 'F32', [10 ** 6, 10 ** 6], [0, 0], 0);
    expect(codeOf(() => toFloat32(t))).toBe('E_TENSOR_TOO_LARGE');
    expect(codeOf(() => t.bytes())).toBe('E_TENSOR_TOO_LARGE');
  });

  test('a shape whose byte size passes 2^53 cannot become a LazyTensor', () => {
    expect(codeOf(() => new LazyTensor(storage(1), 'F32', [2 ** 30, 2 ** 30, 2 ** 30], [0, 0, 0], 0))).toBe('E_TENSOR_TOO_LARGE');
  });
});

describe('parseBoundedJson', () => {
  test('2 million nested arrays: refused by depth before JSON.parse, quickly', () => {
    const started = performance.now();
    const r = parseBoundedJson('['.repeat(2_000_000) + ']'.repeat(2_000_000), { maxDepth: 64 });
    expect(r).toMatchObject({ ok: false, problem: 'depth', reason: 'nesting deeper than 64 levels' });
    expect(performance.now() - started).toBeLessThan(500);
  });

  test('entries per container, duplicates, size, and syntax without quoting the text', () => {
    expect(parseBoundedJson('{"a":[1,2,3,4]}', { maxEntries: 3 })).toMatchObject({ ok: false, problem: 'entries', reason: 'more than 3 entries in one array' });
    expect(parseBoundedJson('{"a":1,"b":2,"c":3}', { maxEntries: 3 })).toMatchObject({ ok: true });
    expect(parseBoundedJson('{"a":{"x":1,"\\u0078":2}}', {}, { duplicates: 'refuse' })).toMatchObject({ ok: false, problem: 'duplicate', key: 'x', parentKey: 'a' });
    expect(parseBoundedJson('{"a":1,"a":2}')).toEqual({ ok: true, value: { a: 2 } });
    expect(parseBoundedJson('x'.repeat(11), { maxChars: 10 })).toMatchObject({ ok: false, problem: 'size' });
    const syntax = parseBoundedJson('root:x:0:0:root:/root:/bin/bash');
    expect(syntax).toMatchObject({ ok: false, problem: 'syntax' });
    expect(JSON.stringify(syntax)).not.toContain('root');
    expect(parseBoundedJson('{"a": "unterminated')).toMatchObject({ ok: false, problem: 'syntax', reason: 'an unterminated string' });
  });

  test('brackets inside strings do not count', () => {
    expect(parseBoundedJson(`{"a":"${'['.repeat(100)}"}`, { maxDepth: 2 })).toEqual({ ok: true, value: { a: '['.repeat(100) } });
  });
});

describe('conv_feature_layers: bounded while parsing', () => {
  test('"[(1,1,1)]*1000 + " repeated 200,000 times fails fast with a typed error', () => {
    const text = '[(1,1,1)]*1000 + '.repeat(200_000) + '[(1,1,1)]';
    const started = performance.now();
    expect(() => parseConvFeatureLayers(text)).toThrow(UnsupportedModelError);
    expect(() => parseConvFeatureLayers(text)).toThrow(/\(3400009 characters\) .*longer than 10000 characters/);
    expect(performance.now() - started).toBeLessThan(200);
  });

  test('the running total is checked before a term is expanded', () => {
    expect(() => parseConvFeatureLayers('[(1,1,1)]*999 + [(1,1,1)]*2')).toThrow(/more than 1000 layers/);
    expect(() => parseConvFeatureLayers('[(1,1,1)] * 1000000 * 1000000')).toThrow(/out of range|more than 1000 layers|unexpected/);
    expect(parseConvFeatureLayers('[(1,1,1)]*999 + [(1,1,1)]')).toHaveLength(1000);
  });
});
