/**
 * Default tolerances per ONNX variant, and how options override them. The worst figures measured on the fixtures
 * (every output incl. hidden states, single and padded batch, against the transformers goldens; test/onnx/parity.test.ts)
 * are in the comments, and in the README next to each bound.
 *   fp32: elementwise allclose atol 1e-4 + rtol 1e-4, and cosine ≥ 0.99999 (float32 arithmetic vs a float64 reference)
 *         measured: max abs 9.1e-6
 *   fp16: cosine ≥ 0.999 and relative L2 error ≤ 0.05 (float16 weights/activations: elementwise bounds would depend on
 *         the output's scale, these do not)        measured: cosine 0.999998, relative L2 2.2e-3
 *   q8, int8, uint8: cosine ≥ 0.99 and relative L2 ≤ 0.15 (dynamic 8-bit MatMuls)
 *         measured: q8 0.99986 / 1.7e-2, int8 0.99972 / 2.4e-2, uint8 0.99964 / 2.7e-2
 *   q4, q4f16, bnb4: cosine ≥ 0.85 and relative L2 ≤ 0.55 (4-bit weights: a check that the graph is right, not a
 *         quality promise)                         measured: q4 0.9734 / 0.23, q4f16 0.9734 / 0.23, bnb4 0.9744 / 0.23;
 *         HuBERT-base with uniform random weights (bench/q8.mjs, 10 s, against torch): q4 0.955, bnb4 0.922
 * cos ≥ c implies a relative L2 error of about √(2(1−c)) when the scale is right, so the L2 bounds sit just above
 * what the cosine bound allows and fail mainly on scale errors.
 */
import type { Tolerance } from './compare.js';
import type { Variant } from './report.js';

export const DEFAULT_TOLERANCES: Readonly<Record<Variant, Readonly<Tolerance>>> = {
  fp32: { atol: 1e-4, rtol: 1e-4, minCosine: 0.99999 },
  fp16: { minCosine: 0.999, maxRelativeL2: 0.05 },
  q8: { minCosine: 0.99, maxRelativeL2: 0.15 },
  int8: { minCosine: 0.99, maxRelativeL2: 0.15 },
  uint8: { minCosine: 0.99, maxRelativeL2: 0.15 },
  q4: { minCosine: 0.85, maxRelativeL2: 0.55 },
  q4f16: { minCosine: 0.85, maxRelativeL2: 0.55 },
  bnb4: { minCosine: 0.85, maxRelativeL2: 0.55 },
};

export interface ToleranceOptions {
  /** applies to every variant (and turns on the elementwise bound for fp16/int8) */
  atol?: number;
  rtol?: number;
  minCosine?: number;
  /** per-variant overrides, applied last */
  tolerances?: Partial<Record<Variant, Tolerance>>;
}

export function resolveTolerances(options: ToleranceOptions): Record<Variant, Tolerance> {
  const out = {} as Record<Variant, Tolerance>;
  for (const variant of Object.keys(DEFAULT_TOLERANCES) as Variant[]) {
    const t: Tolerance = { ...DEFAULT_TOLERANCES[variant] };
    if (options.atol !== undefined) t.atol = options.atol;
    if (options.rtol !== undefined) t.rtol = options.rtol;
    if (options.minCosine !== undefined) t.minCosine = options.minCosine;
    out[variant] = { ...t, ...options.tolerances?.[variant] };
  }
  return out;
}
