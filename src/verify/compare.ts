/**
 * Comparison of one output tensor against its expected values, with every figure the report shows: max abs error,
 * max relative error, cosine similarity, relative L2 error, and where the worst element is.
 *
 * Pass rule (each criterion applies only when its tolerance field is set):
 *   elementwise  |a − e| ≤ atol + rtol·|e|      (numpy/torch allclose; when atol or rtol is set, the other is 0)
 *   cosine       cos(a, e) ≥ minCosine
 *   scale        ‖a − e‖₂ / ‖e‖₂ ≤ maxRelativeL2 (catches a wrong scale, which cosine alone cannot see)
 * Non-finite actual values always fail.
 */

export interface Tolerance {
  atol?: number;
  rtol?: number;
  minCosine?: number;
  maxRelativeL2?: number;
}

/** Where the worst element sits; `batch`/`frame`/`channel` name the axes of [B,T,C] (and [B,C] for logits). */
export interface WorstElement {
  index: number[];
  batch?: number;
  frame?: number;
  channel?: number;
  actual: number;
  expected: number;
}

export interface Comparison {
  output: string;
  shape: number[];
  maxAbs: number;
  /** max |a−e|/|e| over elements with |e| > 1e-3·max|e| (tiny expected values would make it meaningless) */
  maxRel: number;
  cosine: number;
  relativeL2: number;
  tolerance: Tolerance;
  passed: boolean;
  /** why it failed, one line per broken criterion */
  failures: string[];
  /** the element furthest over (or closest to) the elementwise bound; the max-abs element when no atol is set */
  worst: WorstElement;
}

export function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length).fill(0);
  let rest = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = rest % shape[d]!;
    rest = Math.floor(rest / shape[d]!);
  }
  return index;
}

function describeIndex(index: number[]): Pick<WorstElement, 'batch' | 'frame' | 'channel'> {
  if (index.length === 3) return { batch: index[0], frame: index[1], channel: index[2] };
  if (index.length === 2) return { batch: index[0], channel: index[1] };
  return {};
}

export function formatWhere(w: WorstElement): string {
  const parts: string[] = [];
  if (w.batch !== undefined) parts.push(`batch ${w.batch}`);
  if (w.frame !== undefined) parts.push(`frame ${w.frame}`);
  if (w.channel !== undefined) parts.push(`channel ${w.channel}`);
  return parts.length ? parts.join(', ') : `index [${w.index.join(', ')}]`;
}

export function compareTensors(
  output: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  shape: readonly number[],
  tolerance: Tolerance,
  /** what `actual` and `expected` are, for messages (e.g. ['onnx', 'reference']) */
  labels: readonly [string, string] = ['actual', 'expected'],
): Comparison {
  const n = expected.length;
  if (actual.length !== n) throw new Error(`compareTensors(${output}): ${actual.length} vs ${n} elements`);
  const elementwise = tolerance.atol !== undefined || tolerance.rtol !== undefined;
  const atol = tolerance.atol ?? 0;
  const rtol = tolerance.rtol ?? 0;
  let maxAbs = 0;
  let maxExpected = 0;
  let dot = 0, na = 0, ne = 0, diff2 = 0;
  let worstAt = 0;
  let worstScore = -1;
  let nonFinite = -1;
  for (let i = 0; i < n; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!Number.isFinite(a) && nonFinite < 0) nonFinite = i;
    const d = Math.abs(a - e);
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? NaN : d;
    if (Math.abs(e) > maxExpected) maxExpected = Math.abs(e);
    dot += a * e;
    na += a * a;
    ne += e * e;
    diff2 += (a - e) * (a - e);
    const score = !elementwise ? d : d === 0 ? 0 : d / (atol + rtol * Math.abs(e));
    if (score > worstScore || (Number.isNaN(score) && worstScore >= 0)) {
      worstScore = Number.isNaN(score) ? Infinity : score;
      worstAt = i;
    }
  }
  let maxRel = 0;
  const relFloor = 1e-3 * maxExpected;
  for (let i = 0; i < n; i++) {
    const e = Math.abs(expected[i]!);
    if (e > relFloor && e > 0) maxRel = Math.max(maxRel, Math.abs(actual[i]! - expected[i]!) / e);
  }
  const cosine = na === 0 && ne === 0 ? 1 : na === 0 || ne === 0 ? 0 : dot / Math.sqrt(na * ne);
  const relativeL2 = ne === 0 ? (diff2 === 0 ? 0 : Infinity) : Math.sqrt(diff2 / ne);
  const index = unravel(worstAt, shape);
  const worst: WorstElement = { index, ...describeIndex(index), actual: actual[worstAt]!, expected: expected[worstAt]! };

  const failures: string[] = [];
  if (nonFinite >= 0) failures.push(`non-finite value ${actual[nonFinite]} at [${unravel(nonFinite, shape).join(', ')}]`);
  if (elementwise && worstScore > 1) {
    failures.push(
      `|${labels[0]} − ${labels[1]}| = ${fmt(Math.abs(worst.actual - worst.expected))} at ${formatWhere(worst)} (${labels[0]} ${fmt(worst.actual)}, ${labels[1]} ${fmt(worst.expected)}) exceeds atol ${atol} + rtol ${rtol}·|${labels[1]}|`,
    );
  }
  if (tolerance.minCosine !== undefined && !(cosine >= tolerance.minCosine)) failures.push(`cosine ${cosine.toFixed(6)} < ${tolerance.minCosine}`);
  if (tolerance.maxRelativeL2 !== undefined && !(relativeL2 <= tolerance.maxRelativeL2)) {
    failures.push(`relative L2 error ${fmt(relativeL2)} > ${tolerance.maxRelativeL2}`);
  }
  return { output, shape: [...shape], maxAbs, maxRel, cosine, relativeL2, tolerance, passed: failures.length === 0, failures, worst };
}

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  return Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toPrecision(4) : x.toExponential(2);
}
