/**
 * What each ONNX variant is, as data: the float type of the graph (weights that stay float, activations, norms) and
 * how the Linear (MatMul) weights are stored. Names and files follow transformers.js's `dtype` option
 * (src/model.ts); the schemes follow what its conversion scripts make for each dtype, with our own choices noted.
 * The convolution front end and the positional convolution stay float in every variant (quantized convolutions are
 * slower for wav2vec2-family models on CPU and onnxruntime-web has no int8 ConvInteger).
 */
import type { OnnxVariant } from '../../model.js';
import type { Int8Range } from './quantize.js';

export type LinearScheme =
  /** MatMul (+ Add) on float weights */
  | { kind: 'float' }
  /** DynamicQuantizeMatMul: uint8 activations quantized at run time; signed or unsigned per-column weights */
  | { kind: 'int8'; range: Int8Range }
  | { kind: 'uint8' }
  /** MatMulNBits, 4 bits, symmetric, blocks along K */
  | { kind: 'q4'; blockSize: number }
  /** MatMulBnb4, NF4 codes, absmax per block of the flattened [N, K] weight */
  | { kind: 'bnb4'; blockSize: number };

export interface VariantSpec {
  float: 'fp32' | 'fp16';
  linear: LinearScheme;
  /** Linears (HF module names without the `hubert.` prefix) kept as float MatMuls: the few that cost much accuracy and little time */
  floatLinears?: readonly string[];
  /** one line, written into the graph's doc_string */
  summary: string;
}

/**
 * The projection of the conv features into the encoder: about 0.5% of the MatMul work and of the weights, but its input
 * (conv features, unnormalised when feat_proj_layer_norm is false) quantizes worst. bench/q8.mjs, 8-bit, 1 − cosine
 * against torch: HuBERT-base 4.7e-4 → 3.8e-4, DistilHuBERT geometry 2.7e-3 → 9.0e-5 with it kept float.
 */
const FEATURE_PROJECTION = ['feature_projection.projection'];

export const VARIANT_SPECS: Readonly<Record<OnnxVariant, VariantSpec>> = {
  fp32: { float: 'fp32', linear: { kind: 'float' }, summary: 'float32' },
  fp16: { float: 'fp16', linear: { kind: 'float' }, summary: 'float16 weights and compute (norms, Softmax, pooling in float32); float32 inputs and outputs' },
  q8: {
    float: 'fp32',
    linear: { kind: 'int8', range: 'full' },
    floatLinears: FEATURE_PROJECTION,
    summary: 'dynamic 8-bit: int8 per-column weights, uint8 activations (DynamicQuantizeMatMul); the feature projection stays float32',
  },
  // int8 and uint8: the plain schemes (every Linear quantized), as onnxruntime's quantize_dynamic makes them
  int8: { float: 'fp32', linear: { kind: 'int8', range: 'full' }, summary: 'dynamic 8-bit: int8 per-column weights (full range) on every Linear, uint8 activations' },
  uint8: { float: 'fp32', linear: { kind: 'uint8' }, summary: 'dynamic 8-bit: uint8 asymmetric per-column weights on every Linear, uint8 activations' },
  q4: { float: 'fp32', linear: { kind: 'q4', blockSize: 32 }, floatLinears: FEATURE_PROJECTION, summary: '4-bit weights (MatMulNBits, blocks of 32, symmetric), everything else float32' },
  q4f16: { float: 'fp16', linear: { kind: 'q4', blockSize: 32 }, floatLinears: FEATURE_PROJECTION, summary: '4-bit weights (MatMulNBits, blocks of 32) in the fp16 graph' },
  bnb4: { float: 'fp32', linear: { kind: 'bnb4', blockSize: 64 }, floatLinears: FEATURE_PROJECTION, summary: '4-bit NF4 weights (MatMulBnb4, blocks of 64), everything else float32' },
};
