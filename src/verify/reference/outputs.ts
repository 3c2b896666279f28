/**
 * The float64 reference of the issue-12 outputs (src/outputs.ts), on top of the reference forward: the input padded
 * with zeros as bshall's units() pads it, the cut at layer N (hidden_states[N] in transformers 5.x semantics = the
 * layer's raw output, what fairseq's extract_features(output_layer=N) returns, no final LayerNorm for pre-LN), the
 * projection head, and k-means units with the margin between the best and second-best squared distance of each frame
 * (how close the frame is to a tie). Nothing here is shared with the ONNX builder.
 */
import type { HfModel } from '../../model.js';
import { type OutputsRecord, featureOutputName, projectionOutputName } from '../../outputs.js';
import { toFloat64, type TensorData } from '../../tensor.js';
import { type ReferenceTensor, referenceForward } from './forward.js';

export interface ReferenceHead {
  name: string;
  weight: TensorData;
  bias: TensorData;
}

export interface ReferenceCenters {
  clusters: number;
  dim: number;
  /** [K, D] */
  data: Float64Array;
}

export interface ReferenceUnits {
  /** [B, T] unit ids */
  units: Int32Array;
  /** [B, T] second-best minus best squared distance (≥ 0; 0 is an exact tie) */
  margin: Float64Array;
  /** [B, T, D] the features they came from */
  features: Float64Array;
  shape: [number, number];
}

export interface OutputsReference {
  tensors: Record<string, ReferenceTensor>;
  units: ReferenceUnits | null;
}

function pad(values: Float32Array, batch: number, length: number, p: number): Float32Array {
  if (p === 0) return values;
  const out = new Float32Array(batch * (length + 2 * p));
  for (let b = 0; b < batch; b++) out.set(values.subarray(b * length, (b + 1) * length), b * (length + 2 * p) + p);
  return out;
}

function padMask(mask: BigInt64Array, batch: number, length: number, p: number): BigInt64Array {
  const out = new BigInt64Array(batch * (length + 2 * p)).fill(1n);
  for (let b = 0; b < batch; b++) out.set(mask.subarray(b * length, (b + 1) * length), b * (length + 2 * p) + p);
  return out;
}

/** Nearest centre per frame by squared L2 (the first minimum), with the margin to the second best. */
export function nearestCenters(features: Float64Array, frames: number, centers: ReferenceCenters): { units: Int32Array; margin: Float64Array } {
  const { clusters: K, dim: D, data: C } = centers;
  const units = new Int32Array(frames);
  const margin = new Float64Array(frames);
  for (let t = 0; t < frames; t++) {
    let best = Infinity;
    let second = Infinity;
    let arg = 0;
    for (let k = 0; k < K; k++) {
      let d = 0;
      for (let i = 0; i < D; i++) {
        const diff = features[t * D + i]! - C[k * D + i]!;
        d += diff * diff;
      }
      if (d < best) {
        second = best;
        best = d;
        arg = k;
      } else if (d < second) second = d;
    }
    units[t] = arg;
    margin[t] = K > 1 ? second - best : Infinity;
  }
  return { units, margin };
}

/** Run-length encoding as the graphs output it: per row, run units then -1, run lengths then 0. */
export function runLengths(units: ArrayLike<number>, batch: number, frames: number): { dedup: Float64Array; durations: Float64Array } {
  const dedup = new Float64Array(batch * frames).fill(-1);
  const durations = new Float64Array(batch * frames);
  for (let b = 0; b < batch; b++) {
    let k = -1;
    for (let t = 0; t < frames; t++) {
      const u = units[b * frames + t]!;
      if (k < 0 || dedup[b * frames + k] !== u) dedup[b * frames + ++k] = u;
      durations[b * frames + k]! += 1;
    }
  }
  return { dedup, durations };
}

/**
 * The outputs `record` describes, for `input` as the caller feeds it (unpadded). `hiddenStates` also returns
 * `hidden_states.0..layer` (of the padded input).
 */
export function referenceOutputs(
  model: HfModel,
  record: OutputsRecord,
  extras: { head: ReferenceHead | null; centers: ReferenceCenters | null },
  input: { inputValues: Float32Array; batch: number; length: number; mask: BigInt64Array | null },
  hiddenStates = false,
): OutputsReference {
  const p = record.input_padding;
  const { batch, length } = input;
  const padded = { inputValues: pad(input.inputValues, batch, length, p), batch, length: length + 2 * p, ...(input.mask ? { attentionMask: padMask(input.mask, batch, length, p) } : {}) };
  const forward = referenceForward(model, padded, { hiddenStates: record.layer !== null || hiddenStates });
  const features = record.layer === null ? forward.last_hidden_state! : forward[`hidden_states.${record.layer}`]!;
  const [, frames, hidden] = features.shape as [number, number, number];
  const tensors: Record<string, ReferenceTensor> = { [featureOutputName(record.layer)]: features };
  if (hiddenStates) {
    const last = record.layer ?? model.config.num_hidden_layers;
    for (let i = 0; i <= last; i++) tensors[`hidden_states.${i}`] = forward[`hidden_states.${i}`]!;
  }
  if (extras.head) {
    const w = toFloat64(extras.head.weight);
    const bias = toFloat64(extras.head.bias);
    const out = bias.length;
    const data = new Float64Array(batch * frames * out);
    for (let r = 0; r < batch * frames; r++) {
      for (let o = 0; o < out; o++) {
        let s = bias[o]!;
        for (let i = 0; i < hidden; i++) s += features.data[r * hidden + i]! * w[o * hidden + i]!;
        data[r * out + o] = s;
      }
    }
    tensors[projectionOutputName(extras.head.name)] = { data, shape: [batch, frames, out] };
  }
  let units: ReferenceUnits | null = null;
  if (extras.centers) {
    const { units: ids, margin } = nearestCenters(features.data, batch * frames, extras.centers);
    units = { units: ids, margin, features: features.data, shape: [batch, frames] };
    tensors.units = { data: Float64Array.from(ids), shape: [batch, frames] };
  }
  return { tensors, units };
}
