/**
 * The transformer encoder (formats.md §1.3): padded frames zeroed, positional conv added, then post-LN layers
 * (HubertEncoder) or pre-LN layers with a final LayerNorm (HubertEncoderStableLayerNorm). Hidden states follow
 * transformers 5.x: the input of every layer, then the raw output of the last layer (for pre-LN models that last
 * entry lacks encoder.layer_norm, which only last_hidden_state gets).
 */
import type { HubertConfig } from '../../model.js';
import { activationFor, applyInPlace } from './activations.js';
import { addInPlace, gemm, layerNormRows, linear, softmaxPrefix } from './ops.js';
import { loadPosConv } from './pos-conv.js';
import type { ReferenceWeights } from './weights.js';

export interface EncoderOutput {
  /** per utterance, [frames, hidden] */
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

/** Multi-head self-attention over [frames, hidden]; keys at or after `valid` are masked out. */
function attention(x: Float64Array, frames: number, valid: number, config: HubertConfig, q: Dense, k: Dense, v: Dense, o: Dense): Float64Array {
  const hidden = config.hidden_size;
  const heads = config.num_attention_heads;
  const headDim = hidden / heads;
  const scaling = headDim ** -0.5;
  const queries = dense(x, frames, q);
  const keys = dense(x, frames, k);
  const values = dense(x, frames, v);
  const context = new Float64Array(frames * hidden);
  const qh = new Float64Array(frames * headDim);
  const kh = new Float64Array(frames * headDim);
  const vhT = new Float64Array(headDim * frames);
  const scores = new Float64Array(frames * frames);
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < frames; t++) {
      for (let d = 0; d < headDim; d++) {
        const at = t * hidden + h * headDim + d;
        qh[t * headDim + d] = queries[at]! * scaling;
        kh[t * headDim + d] = keys[at]!;
        vhT[d * frames + t] = values[at]!;
      }
    }
    gemm(qh, 0, headDim, frames, kh, frames, headDim, null, scores, 0, frames);
    for (let t = 0; t < frames; t++) softmaxPrefix(scores, t * frames, frames, valid);
    gemm(scores, 0, frames, frames, vhT, headDim, frames, null, context, h * headDim, hidden);
  }
  return dense(context, frames, o);
}

export function encoder(weights: ReferenceWeights, config: HubertConfig, inputs: Float64Array[], frames: number, valid: number[], wantHiddenStates: boolean): EncoderOutput {
  const hidden = config.hidden_size;
  const eps = config.layer_norm_eps;
  const preLN = config.do_stable_layer_norm;
  const act = activationFor(config.hidden_act, 'hidden_act');

  const states = inputs.map((x, b) => {
    const h = new Float64Array(x);
    h.fill(0, valid[b]! * hidden); // padded frames output 0 (transformers zeroes them before the encoder)
    return h;
  });
  const posConv = loadPosConv(weights, config);
  for (const h of states) addInPlace(h, posConv.apply(h, frames));
  const finalNorm = loadNorm(weights, 'encoder.layer_norm', hidden);
  if (!preLN) for (const h of states) layerNormRows(h, frames, hidden, finalNorm.gamma, finalNorm.beta, eps);

  const hiddenStates: Float64Array[][] | null = wantHiddenStates ? [states.map((h) => new Float64Array(h))] : null;
  for (let n = 0; n < config.num_hidden_layers; n++) {
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
      const mid = dense(x, frames, up);
      applyInPlace(mid, act);
      return dense(mid, frames, down);
    };
    for (let b = 0; b < states.length; b++) {
      const h = states[b]!;
      if (preLN) {
        addInPlace(h, attention(normed(h, frames, hidden, norm1, eps), frames, valid[b]!, config, q, k, v, o));
        addInPlace(h, ffn(normed(h, frames, hidden, norm2, eps)));
      } else {
        addInPlace(h, attention(h, frames, valid[b]!, config, q, k, v, o));
        layerNormRows(h, frames, hidden, norm1.gamma, norm1.beta, eps);
        addInPlace(h, ffn(h));
        layerNormRows(h, frames, hidden, norm2.gamma, norm2.beta, eps);
      }
    }
    hiddenStates?.push(states.map((h) => new Float64Array(h)));
  }
  if (preLN) for (const h of states) layerNormRows(h, frames, hidden, finalNorm.gamma, finalNorm.beta, eps);
  return { lastHiddenState: states, hiddenStates };
}
