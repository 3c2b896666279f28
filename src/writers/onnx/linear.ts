/**
 * The nodes and initializers of one Linear (y = x·Wᵀ + b) under each variant's weight scheme (variants.ts).
 * Initializers are named after the Linear (`<name>.weight_quantized`, `<name>.weight_scale`, …) so a graph reads like
 * the model it came from.
 */
import type { TensorData } from '../../tensor.js';
import { float32ToHalfBytes } from './fp16.js';
import type { GraphBuilder } from './graph.js';
import { ONNX_DTYPE } from './proto.js';
import { quantizeInt8, quantizeUint8 } from './quantize.js';
import { BNB4_QUANT_TYPE, quantizeBnb4, quantizeNBits4 } from './quantize4.js';
import type { LinearScheme } from './variants.js';
import { derivedInits, type FloatType, transposedInit, viewBytes } from './weights.js';

export const MS_DOMAIN = 'com.microsoft';

/** Emits x·Wᵀ (+ bias) for the Linear weight `w` ([out, in]); `bias` is an initializer name of the graph's type. */
export function emitLinear(g: GraphBuilder, x: string, name: string, w: TensorData, bias: string | null, scheme: LinearScheme, ct: FloatType): string {
  const [outF, inF] = w.shape as [number, number];
  const floats = (v: Float32Array): Uint8Array => (ct === ONNX_DTYPE.FLOAT16 ? float32ToHalfBytes(v) : viewBytes(v));
  const addBias = (y: string): string => (bias ? g.node('Add', [y, bias]) : y);
  switch (scheme.kind) {
    case 'float':
      return addBias(g.node('MatMul', [x, g.init(transposedInit(`${name}.weight_t`, w, ct))]));
    case 'int8':
    case 'uint8': {
      const unsigned = scheme.kind === 'uint8';
      const derive = (v: Float32Array) => (unsigned ? quantizeUint8(v, outF, inF) : quantizeInt8(v, outF, inF, scheme.range));
      type Q = ReturnType<typeof derive>;
      const parts = [
        { name: `${name}.weight_quantized`, dtype: unsigned ? ONNX_DTYPE.UINT8 : ONNX_DTYPE.INT8, dims: [inF, outF], bytes: (q: Q) => viewBytes(q.values) },
        { name: `${name}.weight_scale`, dtype: ONNX_DTYPE.FLOAT, dims: [outF], bytes: (q: Q) => viewBytes(q.scales) },
        ...(unsigned ? [{ name: `${name}.weight_zero_point`, dtype: ONNX_DTYPE.UINT8, dims: [outF], bytes: (q: Q) => q.zeroPoints! }] : []),
      ];
      const inits = derivedInits(w, derive, parts).map((i) => g.init(i));
      // inputs: A, B, b_scale, b_zero_point (absent: symmetric), bias
      const inputs = [x, inits[0]!, inits[1]!, inits[2] ?? ''];
      if (bias) inputs.push(bias);
      return g.node('DynamicQuantizeMatMul', inputs, {}, { domain: MS_DOMAIN });
    }
    case 'q4': {
      const { blockSize } = scheme;
      const blocks = Math.ceil(inF / blockSize);
      type Q = ReturnType<typeof quantizeNBits4>;
      const [b, scales] = derivedInits(w, (v) => quantizeNBits4(v, outF, inF, blockSize), [
        { name: `${name}.weight_q4`, dtype: ONNX_DTYPE.UINT8, dims: [outF, blocks, blockSize / 2], bytes: (q: Q) => q.packed },
        { name: `${name}.weight_scales`, dtype: ct, dims: [outF * blocks], bytes: (q: Q) => floats(q.scales) },
      ]).map((i) => g.init(i));
      // the bias stays a separate Add (MatMulNBits' optional bias input is newer than some runtimes that load these)
      return addBias(g.node('MatMulNBits', [x, b!, scales!], { K: inF, N: outF, bits: 4, block_size: blockSize }, { domain: MS_DOMAIN }));
    }
    case 'bnb4': {
      const { blockSize } = scheme;
      type Q = ReturnType<typeof quantizeBnb4>;
      const [b, absmax] = derivedInits(w, (v) => quantizeBnb4(v, blockSize), [
        { name: `${name}.weight_bnb4`, dtype: ONNX_DTYPE.UINT8, dims: [Math.ceil((outF * inF) / 2)], bytes: (q: Q) => q.packed },
        { name: `${name}.weight_absmax`, dtype: ct, dims: [Math.ceil((outF * inF) / blockSize)], bytes: (q: Q) => floats(q.absmax) },
      ]).map((i) => g.init(i));
      return addBias(g.node('MatMulBnb4', [x, b!, absmax!], { K: inF, N: outF, block_size: blockSize, quant_type: BNB4_QUANT_TYPE.nf4 }, { domain: MS_DOMAIN }));
    }
  }
}
