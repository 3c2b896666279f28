/**
 * The transformer encoder (formats.md §1.3): padded frames zeroed, positional conv added, then post-LN layers
 * (HubertEncoder) or pre-LN layers with a final LayerNorm (HubertEncoderStableLayerNorm). Hidden states follow
 * transformers 5.x: the input of every layer, then the raw output of the last layer (for pre-LN models that last
 * entry lacks encoder.layer_norm, which only last_hidden_state gets).
 *
 * All rows live in one [Σ frames, hidden] matrix, so every dense layer is one product over all of them (its weight
 * decoded and copied once); attention and the positional conv, which mix frames, run row by row on views of it.
 */
import type { HubertConfig } from '../../model.js';
import { activationFor, applyInPlace } from './activations.js';
import type { ReferenceProgress } from './forward.js';
import { addInPlace, gemm, layerNormRows, linear, softmaxPrefix } from './ops.js';
import { loadPosConv } from './pos-conv.js';
import type { ReferenceWeights } from './weights.js';

export interface EncoderOutput {
  /** per row, [frames, hidden] */
  lastHiddenState: Float64Array[];
  /** hiddenStates[i][b]: N+1 entries, only when asked for */
  hiddenStates: Float64Array[][] | null;
}

interface LayerNorm {
  gamma: Float64Array;
  beta: Float64Array;
}

function loadNorm(weights: ReferenceWeights, name: string, dim: number): LayerNorm {
  return { gamma: weights.base(`${name}.weight`), beta: weights.base(`${name}.bias`) };
}

function normed(x: Float64Array, frames: number, dim: number, norm: LayerNorm, eps: number): Float64Array {
  const y = new Float64Array(x);
  layerNormRows(y, frames, dim, norm.gamma, norm.beta, eps);
  return y;
}

interface Dense {
  weight: Float64Array;
  bias: Float64Array;
  inDim: number;
  outDim: number;
}

function loadDense(weights: ReferenceWeights, name: string, inDim: number, outDim: number): Dense {
  return { weight: weights.base(`${name}.weight`), bias: weights.base(`${name}.bias`), inDim, outDim };
}

function dense(x: Float64Array, frames: number, d: Dense): Float64Array {
  return linear(x, frames, d.inDim, d.weight, d.bias, d.outDim);
}

/** Where each row's frames start in the stacked matrix. */
interface Rows {
  starts: number[];
  frames: number[];
  valid: number[];
  total: number;
}

/** Multi-head self-attention over the stacked rows; in row b, keys at or after valid[b] are masked out. */
function attention(x: Float64Array, rows: Rows, config: HubertConfig, q: Dense, k: Dense, v: Dense, o: Dense): Float64Array {
  const hidden = config.hidden_size;
  const heads = config.num_attention_heads;
  const headDim = hidden / heads;
  const scaling = headDim ** -0.5;
  const queries = dense(x, rows.total, q);
  const keys = dense(x, rows.total, k);
  const values = dense(x, rows.total, v);
  const context = new Float64Array(rows.total * hidden);
  rows.starts.forEach((start, b) => {
    const frames = rows.frames[b]!;
    const valid = rows.valid[b]!;
    const qh = new Float64Array(frames * headDim);
    const kh = new Float64Array(frames * headDim);
    const vhT = new Float64Array(headDim * frames);
    const scores = new Float64Array(frames * frames);
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < frames; t++) {
        for (let d = 0; d < headDim; d++) {
          const at = (start + t) * hidden + h * headDim + d;
          qh[t * headDim + d] = queries[at]! * scaling;
          kh[t * headDim + d] = keys[at]!;
          vhT[d * frames + t] = values[at]!;
        }
      }
      gemm(qh, 0, headDim, frames, kh, frames, headDim, null, scores, 0, frames);
      for (let t = 0; t < frames; t++) softmaxPrefix(scores, t * frames, frames, valid);
      gemm(scores, 0, frames, frames, vhT, headDim, frames, null, context, start * hidden + h * headDim, hidden);
    }
  });
  return dense(context, rows.total, o);
}

function split(x: Float64Array, rows: Rows, hidden: number): Float64Array[] {
  return rows.starts.map((start, b) => x.slice(start * hidden, (start + rows.frames[b]!) * hidden));
}

export function encoder(
  weights: ReferenceWeights,
  config: HubertConfig,
  inputs: Float64Array[],
  frames: number[],
  valid: number[],
  wantHiddenStates: boolean,
  onProgress?: (progress: ReferenceProgress) => void,
): EncoderOutput {
  const hidden = config.hidden_size;
  const eps = config.layer_norm_eps;
  const preLN = config.do_stable_layer_norm;
  const act = activationFor(config.hidden_act, 'hidden_act');
  const starts: number[] = [];
  let total = 0;
  for (const f of frames) {
    starts.push(total);
    total += f;
  }
  const rows: Rows = { starts, frames, valid, total };

  const h = new Float64Array(total * hidden);
  inputs.forEach((x, b) => h.set(x.subarray(0, valid[b]! * hidden), starts[b]! * hidden)); // padded frames stay 0, as transformers zeroes them
  const posConv = loadPosConv(weights, config);
  starts.forEach((start, b) => {
    const row = h.subarray(start * hidden, (start + frames[b]!) * hidden);
    addInPlace(row, posConv.apply(row, frames[b]!));
  });
  const finalNorm = loadNorm(weights, 'encoder.layer_norm', hidden);
  if (!preLN) layerNormRows(h, total, hidden, finalNorm.gamma, finalNorm.beta, eps);

  const hiddenStates: Float64Array[][] | null = wantHiddenStates ? [split(h, rows, hidden)] : null;
  const layers = config.num_hidden_layers;
  onProgress?.({ stage: 'encoder', unit: 'layer', done: 0, total: layers });
  for (let n = 0; n < layers; n++) {
    const p = `encoder.layers.${n}`;
    const q = loadDense(weights, `${p}.attention.q_proj`, hidden, hidden);
    const k = loadDense(weights, `${p}.attention.k_proj`, hidden, hidden);
    const v = loadDense(weights, `${p}.attention.v_proj`, hidden, hidden);
    const o = loadDense(weights, `${p}.attention.out_proj`, hidden, hidden);
    const norm1 = loadNorm(weights, `${p}.layer_norm`, hidden);
    const norm2 = loadNorm(weights, `${p}.final_layer_norm`, hidden);
    const up = loadDense(weights, `${p}.feed_forward.intermediate_dense`, hidden, config.intermediate_size);
    const down = loadDense(weights, `${p}.feed_forward.output_dense`, config.intermediate_size, hidden);
    const ffn = (x: Float64Array): Float64Array => {
      const mid = dense(x, total, up);
      applyInPlace(mid, act);
      return dense(mid, total, down);
    };
    if (preLN) {
      addInPlace(h, attention(normed(h, total, hidden, norm1, eps), rows, config, q, k, v, o));
      addInPlace(h, ffn(normed(h, total, hidden, norm2, eps)));
    } else {
      addInPlace(h, attention(h, rows, config, q, k, v, o));
      layerNormRows(h, total, hidden, norm1.gamma, norm1.beta, eps);
      addInPlace(h, ffn(h));
      layerNormRows(h, total, hidden, norm2.gamma, norm2.beta, eps);
    }
    hiddenStates?.push(split(h, rows, hidden));
    onProgress?.({ stage: 'encoder', unit: 'layer', done: n + 1, total: layers });
  }
  if (preLN) layerNormRows(h, total, hidden, finalNorm.gamma, finalNorm.beta, eps);
  return { lastHiddenState: split(h, rows, hidden), hiddenStates };
}
