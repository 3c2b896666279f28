import { describe, expect, it } from 'vitest';
import { referenceForward } from '../../src/verify/reference/forward.js';
import { goldenNames, hfDir, loadGolden, loadHfModel, maxAbsDiff } from './helpers.js';

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
        { prefix: 'single', input: golden.floats('input.single'), mask: undefined },
        // as in the goldens: layer-norm models get the mask, group-norm models do not
        { prefix: 'batch', input: golden.floats('input.batch'), mask: layerMode ? golden.int64('input.batch_mask') : undefined },
      ];
      const report: string[] = [];
      for (const run of runs) {
        const [batch, length] = run.input.shape as [number, number];
        const out = referenceForward(model, { inputValues: run.input.data, batch, length, attentionMask: run.mask }, { hiddenStates: true });
        const expectedNames = golden.names.filter((n) => n.startsWith(`${run.prefix}.`));
        expect(expectedNames.length).toBeGreaterThan(1);
        for (const key of expectedNames) {
          const outName = key.slice(run.prefix.length + 1);
          const expected = golden.floats(key);
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
