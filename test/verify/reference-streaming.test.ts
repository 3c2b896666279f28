/**
 * The float64 reference decodes weights layer by layer: during each transformer layer's step it decodes exactly that
 * layer's tensors (8 bytes per value), each once, so the float64 weights held at any time are bounded by one layer's
 * (x-large: 315 MB per layer, against 7.7 GB for the whole model at once).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { numelOf } from '../../src/tensor.js';
import { builtInInputs } from '../../src/verify/inputs.js';
import { type ReferenceProgress, referenceForwardRows } from '../../src/verify/reference/forward.js';
import { ReferenceWeights } from '../../src/verify/reference/weights.js';
import { hfDir, loadHfModel } from '../helpers/golden.js';

afterEach(() => vi.restoreAllMocks());

describe('reference weight decoding', () => {
  it.each(['fairseq_ctc', 'fairseq_base_fp16'])('%s: each encoder layer step decodes that layer\'s tensors only, each once', (name) => {
    const model = loadHfModel(hfDir(name));
    const decoded: { name: string; bytes: number }[][] = [[]];
    const decode = (ReferenceWeights.prototype as unknown as { decode: (n: string, s: readonly number[]) => Float64Array }).decode;
    vi.spyOn(ReferenceWeights.prototype as unknown as { decode: typeof decode }, 'decode').mockImplementation(function (this: ReferenceWeights, tensor: string, shape: readonly number[]) {
      const out = decode.call(this, tensor, shape);
      decoded.at(-1)!.push({ name: tensor, bytes: out.byteLength });
      return out;
    });
    const steps: ReferenceProgress[] = [];
    const input = builtInInputs(model.preprocessor)[0]!;
    referenceForwardRows(model, [{ samples: input.inputValues, realSamples: null }], {
      onProgress: (p) => {
        steps.push(p);
        decoded.push([]);
      },
    });
    const layers = model.config.num_hidden_layers;
    const encoderStart = steps.findIndex((s) => s.stage === 'encoder' && s.done === 0);
    expect(encoderStart).toBeGreaterThan(0);
    const prefix = model.architecture === 'HubertModel' ? '' : 'hubert.';
    for (let n = 0; n < layers; n++) {
      // the interval after "layer n of layers done" is layer n's step
      const step = decoded[encoderStart + 1 + n]!;
      const layerTensors = [...model.tensors.keys()].filter((t) => t.startsWith(`${prefix}encoder.layers.${n}.`)).sort();
      expect(layerTensors.length).toBeGreaterThanOrEqual(12);
      expect(step.map((d) => d.name).sort()).toEqual(layerTensors);
      const layerBytes = layerTensors.reduce((a, t) => a + numelOf(model.tensors.get(t)!.shape) * 8, 0);
      expect(step.reduce((a, d) => a + d.bytes, 0)).toBe(layerBytes);
    }
    // nothing is decoded twice in a pass
    const all = decoded.flat().map((d) => d.name);
    expect(new Set(all).size).toBe(all.length);
  });
});
