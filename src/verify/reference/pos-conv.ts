/**
 * The convolutional positional embedding: grouped Conv1d(H, H, K, padding K//2) whose weight comes from weight norm
 * (g·v/‖v‖ per kernel tap, computed here in float64) or, in the batch-norm variant, a plain weight preceded by
 * BatchNorm1d (running statistics, eps 1e-5); the last frame is dropped when K is even; then the activation.
 */
import type { HubertConfig } from '../../model.js';
import { activationFor, applyInPlace } from './activations.js';
import { gemm } from './ops.js';
import type { ReferenceWeights } from './weights.js';

const BATCH_NORM_EPS = 1e-5;

export interface PosConv {
  /** Position embeddings of time-major [frames, hidden] input, [frames, hidden]. */
  apply(x: Float64Array, frames: number): Float64Array;
}

/** Effective conv weight [H, H/G, K] from weight norm over dims 0 and 1, one norm per kernel tap. */
export function weightNormWeight(g: Float64Array, v: Float64Array, kernel: number): Float64Array {
  const rows = v.length / kernel;
  const norms = new Float64Array(kernel);
  for (let r = 0; r < rows; r++) for (let k = 0; k < kernel; k++) norms[k]! += v[r * kernel + k]! ** 2;
  const scale = new Float64Array(kernel);
  for (let k = 0; k < kernel; k++) scale[k] = g[k]! / Math.sqrt(norms[k]!);
  const w = new Float64Array(v.length);
  for (let r = 0; r < rows; r++) for (let k = 0; k < kernel; k++) w[r * kernel + k] = v[r * kernel + k]! * scale[k]!;
  return w;
}

export function loadPosConv(weights: ReferenceWeights, config: HubertConfig): PosConv {
  const hidden = config.hidden_size;
  const kernel = config.num_conv_pos_embeddings;
  const groups = config.num_conv_pos_embedding_groups;
  const perGroup = hidden / groups;
  const name = 'encoder.pos_conv_embed';
  const shape = [hidden, perGroup, kernel];
  let weight: Float64Array;
  let batchNorm: { scale: Float64Array; shift: Float64Array } | null = null;
  if (config.conv_pos_batch_norm) {
    weight = weights.base(`${name}.conv.weight`);
    const gamma = weights.base(`${name}.batch_norm.weight`);
    const beta = weights.base(`${name}.batch_norm.bias`);
    const mean = weights.base(`${name}.batch_norm.running_mean`);
    const variance = weights.base(`${name}.batch_norm.running_var`);
    const scale = new Float64Array(hidden);
    const shift = new Float64Array(hidden);
    for (let c = 0; c < hidden; c++) {
      scale[c] = gamma[c]! / Math.sqrt(variance[c]! + BATCH_NORM_EPS);
      shift[c] = beta[c]! - mean[c]! * scale[c]!;
    }
    batchNorm = { scale, shift };
  } else if (weights.hasBase(`${name}.conv.weight_g`) || !weights.hasBase(`${name}.conv.weight`)) {
    const g = weights.base(`${name}.conv.weight_g`);
    const v = weights.base(`${name}.conv.weight_v`);
    weight = weightNormWeight(g, v, kernel);
  } else {
    weight = weights.base(`${name}.conv.weight`, shape); // weight norm already folded in (not a name the schema has)
  }
  const bias = weights.base(`${name}.conv.bias`);
  const act = activationFor(config.feat_extract_activation, 'feat_extract_activation');

  // per group: [out][k][in-of-group], so a row of the padded input's im2col is one contiguous dot product
  const groupWeights: Float64Array[] = [];
  for (let g = 0; g < groups; g++) {
    const w = new Float64Array(perGroup * kernel * perGroup);
    for (let o = 0; o < perGroup; o++) {
      for (let c = 0; c < perGroup; c++) {
        for (let k = 0; k < kernel; k++) w[(o * kernel + k) * perGroup + c] = weight[((g * perGroup + o) * perGroup + c) * kernel + k]!;
      }
    }
    groupWeights.push(w);
  }
  const pad = Math.floor(kernel / 2);

  return {
    apply(x: Float64Array, frames: number): Float64Array {
      const out = new Float64Array(frames * hidden);
      // only the first `frames` outputs are kept: for even K that drops the one extra frame (SamePadLayer)
      const columns = new Float64Array(frames * kernel * perGroup);
      for (let g = 0; g < groups; g++) {
        columns.fill(0);
        for (let t = 0; t < frames; t++) {
          for (let k = 0; k < kernel; k++) {
            const src = t + k - pad;
            if (src < 0 || src >= frames) continue;
            const dst = (t * kernel + k) * perGroup;
            for (let c = 0; c < perGroup; c++) {
              const channel = g * perGroup + c;
              const value = x[src * hidden + channel]!;
              columns[dst + c] = batchNorm ? value * batchNorm.scale[channel]! + batchNorm.shift[channel]! : value;
            }
          }
        }
        gemm(columns, 0, kernel * perGroup, frames, groupWeights[g]!, perGroup, kernel * perGroup, bias.subarray(g * perGroup), out, g * perGroup, hidden);
      }
      applyInPlace(out, act);
      return out;
    },
  };
}
