import { describe, expect, it } from 'vitest';
import { compareTensors, unravel } from '../../src/verify/compare.js';

describe('compareTensors', () => {
  it('reports max abs, max rel, cosine, relative L2 and the worst element by batch/frame/channel', () => {
    const expected = new Float64Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const actual = Float64Array.from(expected);
    actual[7] = 8.5; // [b=1, t=0, c=1] in shape [2, 2, 3]
    const c = compareTensors('last_hidden_state', actual, expected, [2, 2, 3], { atol: 1e-4 });
    expect(c.maxAbs).toBeCloseTo(0.5, 12);
    expect(c.maxRel).toBeCloseTo(0.5 / 8, 12);
    expect(c.worst).toMatchObject({ index: [1, 0, 1], batch: 1, frame: 0, channel: 1, actual: 8.5, expected: 8 });
    const norm = Math.sqrt(expected.reduce((a, x) => a + x * x, 0));
    expect(c.relativeL2).toBeCloseTo(0.5 / norm, 12);
    expect(c.cosine).toBeLessThan(1);
    expect(c.passed).toBe(false);
    expect(c.failures).toEqual([expect.stringContaining('at batch 1, frame 0, channel 1 (actual 8.500, expected 8.000) exceeds atol 0.0001')]);
  });

  it('passes within allclose bounds and applies rtol relative to |expected|', () => {
    const expected = new Float64Array([100, -0.001]);
    const actual = new Float64Array([100.009, -0.00105]);
    expect(compareTensors('x', actual, expected, [2], { atol: 1e-4, rtol: 1e-4 }).passed).toBe(true);
    expect(compareTensors('x', actual, expected, [2], { atol: 1e-4, rtol: 0 }).passed).toBe(false);
  });

  it('catches a scale error by relative L2 even when cosine is perfect', () => {
    const expected = new Float64Array([1, -2, 3, -4]);
    const actual = expected.map((x) => x * 2);
    const c = compareTensors('x', actual, expected, [1, 4], { minCosine: 0.999, maxRelativeL2: 0.05 });
    expect(c.cosine).toBeCloseTo(1, 12);
    expect(c.relativeL2).toBeCloseTo(1, 12);
    expect(c.passed).toBe(false);
    expect(c.failures).toEqual(['relative L2 error 1.000 > 0.05']);
    expect(c.worst).toMatchObject({ batch: 0, channel: 3 });
  });

  it('fails on cosine below the bound and on non-finite values', () => {
    const expected = new Float64Array([1, 0, 0, 1]);
    const c = compareTensors('x', new Float64Array([0, 1, 1, 0]), expected, [4], { minCosine: 0.99 });
    expect(c.cosine).toBe(0);
    expect(c.failures).toEqual(['cosine 0.000000 < 0.99']);
    const n = compareTensors('x', new Float64Array([1, NaN, 0, 1]), expected, [4], { minCosine: 0.5 });
    expect(n.passed).toBe(false);
    expect(n.failures[0]).toBe('non-finite value NaN at [1]');
  });

  it('unravels flat indices row-major', () => {
    expect(unravel(0, [2, 3, 4])).toEqual([0, 0, 0]);
    expect(unravel(23, [2, 3, 4])).toEqual([1, 2, 3]);
    expect(unravel(13, [2, 3, 4])).toEqual([1, 0, 1]);
  });
});
