/**
 * Graph pieces for the outputs of src/outputs.ts that transformers' HubertModel lacks: the input layout of the
 * voice-conversion projects and bshall's padding (before the conv stack), k-means units and their run-length
 * encoding (after the chosen layer). The layer cut and the projection head are in hubert.ts (they reuse its encoder
 * and Linear).
 */
import type { KMeansQuantizer } from '../../readers/kmeans.js';
import { float32Init, type GraphBuilder } from './graph.js';
import { ONNX_DTYPE } from './proto.js';

/** [B, 1, S] → [B, S] when the caller feeds a channel axis; then `padding` zeros on each side (units(): F.pad(x, (40, 40))). */
export function prepareSamples(g: GraphBuilder, input: string, channelAxis: boolean, padding: number): string {
  let x = channelAxis ? g.node('Squeeze', [input, g.i64([1])]) : input;
  if (padding > 0) x = g.scoped('input_padding', () => g.node('Pad', [x, g.i64([0, padding, 0, padding])], { mode: 'constant' }));
  return x;
}

/** The attention mask padded like the samples: the padding zeros are input the model sees (units() does not mask them). */
export function padMask(g: GraphBuilder, mask: string, padding: number): string {
  if (padding === 0) return mask;
  const one = g.i64([1], []);
  return g.scoped('input_padding', () => g.node('Pad', [mask, g.i64([0, padding, 0, padding]), one], { mode: 'constant' }));
}

/**
 * int64 [B, T] nearest centre of float32 features [B, T, D], with fairseq's ApplyKmeans formula
 * (`‖x‖² − 2·x·Cᵀ + ‖C‖²`, argmin = the first minimum, like np.argmin / torch.argmin).
 */
export function kmeansUnits(g: GraphBuilder, x32: string, q: KMeansQuantizer): string {
  const { clusters: K, dim: D, centers } = q;
  return g.scoped('kmeans', () => {
    const ct = new Float32Array(D * K);
    const norms = new Float32Array(K);
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let d = 0; d < D; d++) {
        const c = centers[k * D + d]!;
        ct[d * K + k] = c;
        s += c * c;
      }
      norms[k] = s;
    }
    const centersT = g.init(float32Init('kmeans.cluster_centers_t', [D, K], ct));
    const centerNorms = g.init(float32Init('kmeans.cluster_norms', [K], norms));
    const xNorm = g.node('ReduceSumSquare', [x32], { axes: [-1], keepdims: 1 });
    const dot = g.node('MatMul', [x32, centersT]);
    const dist = g.node('Add', [g.node('Sub', [xNorm, g.node('Mul', [dot, g.scalar(2)])]), centerNorms]);
    return g.node('ArgMin', [dist], { axis: -1, keepdims: 0, select_last_index: 0 });
  });
}

/**
 * Run-length encoding of int64 units [B, T], kept rectangular so batches work: `unit_durations[b, k]` is the length
 * of the k-th run (0 after the last run) and `dedup_units[b, k]` its unit (-1 after the last run). The deduplicated
 * sequence of row b is `dedup_units[b, :n]` with n = the number of non-zero durations.
 */
export function dedupUnits(g: GraphBuilder, units: string): { dedup: string; durations: string } {
  return g.scoped('dedup_units', () => {
    const I64 = ONNX_DTYPE.INT64;
    const axis1 = g.i64([1], []);
    const zeros = g.node('Mul', [units, g.i64([0], [])]);
    const ones = g.node('Add', [zeros, g.i64([1], [])]);
    // a run starts at t = 0 and wherever the unit differs from the one before
    const prev = g.node('Slice', [units, g.i64([0]), g.i64([-1]), g.i64([1])]);
    const next = g.node('Slice', [units, g.i64([1]), g.i64([Number.MAX_SAFE_INTEGER]), g.i64([1])]);
    const changed = g.node('Cast', [g.node('Not', [g.node('Equal', [next, prev])])], { to: I64 });
    const first = g.node('Slice', [ones, g.i64([0]), g.i64([1]), g.i64([1])]);
    const starts = g.node('Concat', [first, changed], { axis: 1 });
    const runIndex = g.node('Sub', [g.node('CumSum', [starts, axis1]), g.i64([1], [])]);
    const durations = g.node('ScatterElements', [zeros, runIndex, ones], { axis: 1, reduction: 'add' });
    const runStart = g.node('CumSum', [durations, axis1], { exclusive: 1 });
    const lastFrame = g.node('Sub', [g.node('Gather', [g.node('Shape', [units]), axis1], { axis: 0 }), g.i64([1], [])]);
    const unitAtStart = g.node('GatherElements', [units, g.node('Min', [runStart, lastFrame])], { axis: 1 });
    const dedup = g.node('Where', [g.node('Greater', [durations, g.i64([0], [])]), unitAtStart, g.i64([-1], [])]);
    return { dedup, durations };
  });
}
