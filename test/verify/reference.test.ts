import { describe, expect, it } from 'vitest';
import { referenceForward } from '../../src/verify/reference/forward.js';
import { MemoryTensor } from '../../src/tensor.js';
import { builtInInputs } from '../../src/verify/inputs.js';
import { ReferenceCache } from '../../src/verify/reference-cache.js';
import { type GoldenTensor, goldenNames, hfDir, loadGolden, loadHfModel, maxAbsDiff } from '../helpers/golden.js';

function floats(golden: Map<string, GoldenTensor>, key: string): { data: Float32Array; shape: number[] } {
  const t = golden.get(key);
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`golden has no float tensor ${key}`);
  return { data: t.data, shape: [...t.shape] };
}

/** Measured worst case over all fixtures is printed; the bar is the brief's 1e-4. */
const GOLDEN_ATOL = 1e-4;

const names = goldenNames();

describe('reference forward vs transformers goldens', () => {
  it('has goldens to compare against', () => {
    expect(names.length).toBeGreaterThanOrEqual(7);
  });

  for (const name of names) {
    it(`${name}: single utterance and padded batch, every output`, () => {
      const model = loadHfModel(hfDir(name));
      const golden = loadGolden(name);
      const layerMode = model.config.feat_extract_norm === 'layer';
      const runs = [
        { prefix: 'single', input: floats(golden, 'input.single'), mask: undefined },
        // as in the goldens: layer-norm models get the mask, group-norm models do not
        { prefix: 'batch', input: floats(golden, 'input.batch'), mask: layerMode ? (golden.get('input.batch_mask')!.data as BigInt64Array) : undefined },
      ];
      const report: string[] = [];
      for (const run of runs) {
        const [batch, length] = run.input.shape as [number, number];
        const out = referenceForward(model, { inputValues: run.input.data, batch, length, attentionMask: run.mask }, { hiddenStates: true });
        const expectedNames = [...golden.keys()].filter((n) => n.startsWith(`${run.prefix}.`));
        expect(expectedNames.length).toBeGreaterThan(1);
        for (const key of expectedNames) {
          const outName = key.slice(run.prefix.length + 1);
          const expected = floats(golden, key);
          const actual = out[outName];
          expect(actual, `${name} ${key}`).toBeDefined();
          expect(actual!.shape).toEqual(expected.shape);
          const err = maxAbsDiff(actual!.data, expected.data);
          report.push(`${key}=${err.toExponential(2)}`);
          expect(err, `${name} ${key}`).toBeLessThan(GOLDEN_ATOL);
        }
        // no extra outputs beyond the golden's
        expect(Object.keys(out).sort()).toEqual(expectedNames.map((k) => k.slice(run.prefix.length + 1)).sort());
      }
      console.log(`${name}: ${report.join(' ')}`);
    });
  }
});

describe('reference forward details', () => {
  it('reads the pos-conv weight norm from weight_g/weight_v and from parametrizations.original0/1 alike', () => {
    const model = loadHfModel(hfDir('fairseq_base_dict'));
    const golden = loadGolden('fairseq_base_dict');
    const input = floats(golden, 'input.single');
    // readHfFolder gives the legacy names; rename back to what transformers 5 writes
    const renamed = new Map([...model.tensors].map(([n, t]) => [n.replace(/weight_g$/, 'parametrizations.weight.original0').replace(/weight_v$/, 'parametrizations.weight.original1'), t]));
    expect(model.tensors.has('encoder.pos_conv_embed.conv.weight_g')).toBe(true);
    expect(renamed.has('encoder.pos_conv_embed.conv.parametrizations.weight.original0')).toBe(true);
    const a = referenceForward(model, { inputValues: input.data, batch: 1, length: 16000 });
    const b = referenceForward({ ...model, tensors: renamed }, { inputValues: input.data, batch: 1, length: 16000 });
    expect(b.last_hidden_state!.data).toEqual(a.last_hidden_state!.data);
  });

  it('an all-ones attention mask changes nothing; a padded row only changes that row', () => {
    const model = loadHfModel(hfDir('fairseq_large_dictconfig'));
    const input = floats(loadGolden('fairseq_large_dictconfig'), 'input.batch');
    const plain = referenceForward(model, { inputValues: input.data, batch: 2, length: 16000 });
    const ones = referenceForward(model, { inputValues: input.data, batch: 2, length: 16000, attentionMask: new Int32Array(32000).fill(1) });
    expect(ones.last_hidden_state!.data).toEqual(plain.last_hidden_state!.data);
    const mask = new Int32Array(32000).fill(1).fill(0, 16000 + 11000);
    const masked = referenceForward(model, { inputValues: input.data, batch: 2, length: 16000, attentionMask: mask });
    const per = 49 * 32;
    expect(masked.last_hidden_state!.data.subarray(0, per)).toEqual(plain.last_hidden_state!.data.subarray(0, per));
    expect(maxAbsDiff(masked.last_hidden_state!.data.subarray(per), plain.last_hidden_state!.data.subarray(per))).toBeGreaterThan(1e-3);
  });

  it('refuses weights whose shape disagrees with the config, naming the tensor', () => {
    const model = loadHfModel(hfDir('fairseq_base_dict'));
    const tensors = new Map(model.tensors);
    tensors.set('encoder.layers.0.attention.q_proj.weight', MemoryTensor.fromFloat32([32, 16], new Float32Array(512)));
    expect(() => referenceForward({ ...model, tensors }, { inputValues: new Float32Array(16000), batch: 1, length: 16000 })).toThrow(
      'tensor "encoder.layers.0.attention.q_proj.weight" has shape [32, 16] but the config implies [32, 32]',
    );
  });

  it('caches per batch row: the built-in batch reuses the single input as row 0, results equal a batched pass', () => {
    const model = loadHfModel(hfDir('fairseq_base_dict'));
    const cache = new ReferenceCache(model);
    const [single, batch] = builtInInputs({ do_normalize: true });
    const a = cache.get({ inputValues: single!.inputValues, batch: 1, length: 16000, mask: null, hiddenStates: false });
    const b = cache.get({ inputValues: batch!.inputValues, batch: 2, length: 16000, mask: batch!.attentionMask, hiddenStates: false });
    expect(cache.computed).toBe(2);
    expect(b.last_hidden_state!.data.subarray(0, 49 * 32)).toEqual(a.last_hidden_state!.data);
    const direct = referenceForward(model, { inputValues: batch!.inputValues, batch: 2, length: 16000, attentionMask: batch!.attentionMask });
    expect(b.last_hidden_state!.shape).toEqual([2, 49, 32]);
    expect(b.last_hidden_state!.data).toEqual(direct.last_hidden_state!.data);
    cache.get({ inputValues: batch!.inputValues, batch: 2, length: 16000, mask: batch!.attentionMask, hiddenStates: false });
    expect(cache.computed).toBe(2);
  });

  it('refuses input too short for the conv stack', () => {
    const model = loadHfModel(hfDir('fairseq_base_dict'));
    expect(() => referenceForward(model, { inputValues: new Float32Array(300), batch: 1, length: 300 })).toThrow(
      expect.objectContaining({ code: 'E_INPUT_TOO_SHORT' }),
    );
  });
});
