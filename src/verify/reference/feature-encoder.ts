/**
 * The convolutional front end and the feature projection (formats.md §1.3). The conv stack never sees the attention
 * mask: padding zeros flow through it, as in transformers.
 */
import type { HubertConfig } from '../../model.js';
import { activationFor, applyInPlace } from './activations.js';
import type { ReferenceProgress } from './forward.js';
import { channelNormOverTime, gemm, layerNormRows, linear } from './ops.js';
import { convWeightTimeMajor, type ReferenceWeights } from './weights.js';

/** The feature extractor's norms use torch's default eps, whatever config.layer_norm_eps says. */
const EXTRACTOR_NORM_EPS = 1e-5;

export interface Frames {
  data: Float64Array; // time-major [frames, channels]
  frames: number;
  channels: number;
}

/**
 * Conv stack over each utterance; layer-major so each weight is decoded once. Callers check the length first
 * (input-length.ts): every utterance is at least the receptive field, so every layer makes at least one frame.
 */
export function featureEncoder(weights: ReferenceWeights, config: HubertConfig, utterances: Float64Array[], onProgress?: (progress: ReferenceProgress) => void): Frames[] {
  const act = activationFor(config.feat_extract_activation, 'feat_extract_activation');
  let states: Frames[] = utterances.map((u) => ({ data: u, frames: u.length, channels: 1 }));
  onProgress?.({ stage: 'feature encoder', unit: 'conv layer', done: 0, total: config.conv_dim.length });
  for (let i = 0; i < config.conv_dim.length; i++) {
    const inChannels = i === 0 ? 1 : config.conv_dim[i - 1]!;
    const outChannels = config.conv_dim[i]!;
    const kernel = config.conv_kernel[i]!;
    const stride = config.conv_stride[i]!;
    const prefix = `feature_extractor.conv_layers.${i}`;
    const weight = convWeightTimeMajor(weights.base(`${prefix}.conv.weight`), outChannels, inChannels, kernel);
    const bias = config.conv_bias ? weights.base(`${prefix}.conv.bias`) : null;
    const normed = config.feat_extract_norm === 'layer' || i === 0;
    const gamma = normed ? weights.base(`${prefix}.layer_norm.weight`) : null;
    const beta = normed ? weights.base(`${prefix}.layer_norm.bias`) : null;
    states = states.map((s) => {
      const frames = Math.floor((s.frames - kernel) / stride) + 1;
      const out = new Float64Array(frames * outChannels);
      gemm(s.data, 0, stride * inChannels, frames, weight, outChannels, kernel * inChannels, bias, out, 0, outChannels);
      if (gamma && beta) {
        if (config.feat_extract_norm === 'layer') layerNormRows(out, frames, outChannels, gamma, beta, EXTRACTOR_NORM_EPS);
        else channelNormOverTime(out, frames, outChannels, gamma, beta, EXTRACTOR_NORM_EPS);
      }
      applyInPlace(out, act);
      return { data: out, frames, channels: outChannels };
    });
    onProgress?.({ stage: 'feature encoder', unit: 'conv layer', done: i + 1, total: config.conv_dim.length });
  }
  return states;
}

/** Optional LayerNorm (layer_norm_eps) then Linear to hidden_size. */
export function featureProjection(weights: ReferenceWeights, config: HubertConfig, states: Frames[]): Frames[] {
  const inDim = config.conv_dim[config.conv_dim.length - 1]!;
  const hidden = config.hidden_size;
  const gamma = config.feat_proj_layer_norm ? weights.base('feature_projection.layer_norm.weight') : null;
  const beta = config.feat_proj_layer_norm ? weights.base('feature_projection.layer_norm.bias') : null;
  const weight = weights.base('feature_projection.projection.weight');
  const bias = weights.base('feature_projection.projection.bias');
  return states.map((s) => {
    const x = new Float64Array(s.data);
    if (gamma && beta) layerNormRows(x, s.frames, inDim, gamma, beta, config.layer_norm_eps);
    return { data: linear(x, s.frames, inDim, weight, bias, hidden), frames: s.frames, channels: hidden };
  });
}
