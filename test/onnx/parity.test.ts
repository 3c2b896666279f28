/**
 * Every ONNX variant of every convertible fixture against the transformers 5.x goldens, within its verify tolerance, on the single
 * utterance and on the zero-padded batch of two lengths (with attention_mask for layer-norm models), including every
 * hidden state. Measured figures are printed (and stated in the ONNX report).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ONNX_VARIANT_FILES, ONNX_VARIANTS } from '../../src/model.js';
import { compareTensors, DEFAULT_TOLERANCES } from '../../src/verify/index.js';
import { buildOnnx } from '../../src/writers/onnx/index.js';
import { convertibleFixtures, FIXTURES, type GoldenTensor, loadGolden, loadHfModel, maxAbsDiff, runGraph } from './helpers.js';

const DATA = new URL('./data/', import.meta.url).pathname;
const cases = [
  ...convertibleFixtures().map((name) => ({ name, dir: join(FIXTURES, 'hf', name), golden: join(FIXTURES, 'golden', `${name}.safetensors`) })),
  { name: 'seq_layer_wsum (test/onnx/data)', dir: join(DATA, 'seq_layer_wsum'), golden: join(DATA, 'seq_layer_wsum.golden.safetensors') },
];
const out = mkdtempSync(join(tmpdir(), 'onnx-parity-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const ones = (n: number): GoldenTensor => ({ shape: [1, n], data: new BigInt64Array(n).fill(1n) });

describe.each(cases)('$name', ({ name, dir, golden }) => {
  it('every variant matches the goldens within its verify tolerance (all outputs, single and padded batch); fp32 within 1e-4', async () => {
    const model = loadHfModel(dir);
    const gold = loadGolden(golden);
    const target = join(out, name.split(' ')[0]!);
    const files = await buildOnnx(model, target, { variants: [...ONNX_VARIANTS], hiddenStates: true });
    expect(files.map((f) => f.file)).toEqual(ONNX_VARIANTS.map((v) => ONNX_VARIANT_FILES[v]));
    const summary: string[] = [];
    for (const f of files) {
      for (const tag of ['single', 'batch'] as const) {
        const input = gold.get(`input.${tag}`)!;
        const feeds = { input_values: input, attention_mask: tag === 'batch' ? gold.get('input.batch_mask')! : ones(input.shape[1]!) };
        const result = await runGraph(join(target, f.file), feeds);
        let worst = 0;
        let worstCos = 1;
        let worstL2 = 0;
        for (const [output, value] of result) {
          const g = gold.get(`${tag}.${output}`);
          expect(g, `golden ${tag}.${output}`).toBeDefined();
          expect(value.dims).toEqual(g!.shape);
          const c = compareTensors(output, value.data, g!.data as Float32Array, g!.shape, DEFAULT_TOLERANCES[f.variant]);
          expect(c.failures, `${f.variant} ${tag} ${output}`).toEqual([]);
          worst = Math.max(worst, c.maxAbs);
          worstCos = Math.min(worstCos, c.cosine);
          worstL2 = Math.max(worstL2, c.relativeL2);
        }
        summary.push(`${f.variant} ${tag}: maxAbs ${worst.toExponential(2)} minCos ${worstCos.toFixed(6)} maxRelL2 ${worstL2.toExponential(2)}`);
        if (f.variant === 'fp32') expect(worst).toBeLessThan(1e-4);
      }
    }
    console.log(`${name}: ${summary.join('; ')}`);
  });
});
