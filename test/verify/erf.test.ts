import { describe, expect, it } from 'vitest';
import { erf, erfc, gelu } from '../../src/verify/reference/erf.js';

// erf / erfc values from an independent implementation (CPython's math.erf / math.erfc)
const TABLE: Array<[number, number, number]> = [
  [0.1, 0.1124629160182849, 0.8875370839817152],
  [0.5, 0.5204998778130465, 0.4795001221869535],
  [1, 0.8427007929497149, 0.15729920705028513],
  [2, 0.9953222650189527, 0.004677734981047265],
  [2.5, 0.999593047982555, 0.0004069520174449589],
  [3, 0.9999779095030014, 2.2090496998585438e-5],
  [4, 0.9999999845827421, 1.541725790028002e-8],
  [5, 0.9999999999984626, 1.5374597944280351e-12],
  [6, 1.0, 2.1519736712498916e-17],
];

describe('erf', () => {
  it('matches double-precision values within a few ulps, also in the tails', () => {
    for (const [x, e, c] of TABLE) {
      expect(Math.abs(erf(x) - e)).toBeLessThanOrEqual(4 * Number.EPSILON * e);
      expect(Math.abs(erf(-x) + e)).toBeLessThanOrEqual(4 * Number.EPSILON * e);
      // erfc keeps relative precision where 1 - erf would lose it
      expect(Math.abs(erfc(x) - c) / c).toBeLessThan(1e-13);
      expect(Math.abs(erfc(-x) - (2 - c))).toBeLessThanOrEqual(4 * Number.EPSILON);
    }
  });

  it('gives the exact GELU, including for large negative inputs', () => {
    expect(gelu(0)).toBe(0);
    expect(gelu(1)).toBeCloseTo(0.8413447460685429, 15);
    expect(gelu(-1)).toBeCloseTo(-0.15865525393145707, 15);
    // -10·Φ(-10), Φ(-10) = erfc(10/√2)/2 = 7.619853024160593e-24
    expect(gelu(-10) / -7.619853024160593e-23).toBeCloseTo(1, 12);
    expect(Number.isNaN(erf(NaN))).toBe(true);
  });
});
