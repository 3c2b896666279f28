/**
 * The issue-12 outputs (layer cut, projection head, k-means units, bshall's padding) of the fp32 graphs against the
 * original projects' own forward (fixtures/golden/*.upstream.safetensors: the contentvec fork's and fairseq's
 * extract_features(output_layer=N), final_proj on it, bshall's units(), sklearn's predict), within 1e-3, units exactly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HfModel } from '../../src/model.js';
import { type OutputOptions, resolveOutputs } from '../../src/outputs.js';
import { buildOnnx } from '../../src/writers/onnx/index.js';
import { contentvecModel, hubertDiscreteModel, hubertSoftModel, kmeansFixture } from '../helpers/family.js';
import { type GoldenTensor, loadGolden, maxAbsDiff, runGraph } from './helpers.js';

const out = mkdtempSync(join(tmpdir(), 'onnx-family-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const inputs = loadGolden('inputs');

async function run(model: HfModel, options: OutputOptions, tag: 'single' | 'batch', name: string) {
  const spec = resolveOutputs(model, options)!;
  const dir = join(out, name);
  await buildOnnx(model, dir, { variants: ['fp32'], outputs: spec });
  return runGraph(join(dir, 'onnx/model.onnx'), { input_values: inputs.get(`input.${tag}`)! });
}

function expectClose(actual: { dims: readonly number[]; data: Float32Array }, golden: GoldenTensor | undefined, tol = 1e-3): number {
  expect(golden).toBeDefined();
  expect([...actual.dims]).toEqual([...golden!.shape]);
  const diff = maxAbsDiff(actual.data, golden!.data as Float32Array);
  expect(diff).toBeLessThan(tol);
  return diff;
}

function agreement(actual: ArrayLike<bigint>, golden: ArrayLike<bigint>): number {
  let same = 0;
  for (let i = 0; i < golden.length; i++) if (actual[i] === golden[i]) same++;
  return same / golden.length;
}

/** The run-length encoding the graph promises, computed here from the golden units. */
function runLengths(units: BigInt64Array, batch: number, frames: number): { dedup: bigint[]; durations: bigint[] } {
  const dedup: bigint[] = [];
  const durations: bigint[] = [];
  for (let b = 0; b < batch; b++) {
    const row = units.subarray(b * frames, (b + 1) * frames);
    const u: bigint[] = [];
    const d: bigint[] = [];
    for (const x of row) {
      if (u.length && u[u.length - 1] === x) d[d.length - 1]! += 1n;
      else (u.push(x), d.push(1n));
    }
    while (u.length < frames) (u.push(-1n), d.push(0n));
    dedup.push(...u);
    durations.push(...d);
  }
  return { dedup, durations };
}

describe('ContentVec legacy (RVC hubert_base.pt): layers 3 and 4, with and without final_proj', () => {
  const golden = loadGolden('contentvec_legacy.upstream');
  for (const layer of [3, 4]) {
    for (const finalProj of [false, true]) {
      it(`--output-layer ${layer}${finalProj ? ' --final-proj' : ''}`, async () => {
        for (const tag of ['single', 'batch'] as const) {
          const result = await run(contentvecModel(), { outputLayer: layer, finalProj }, tag, `cv-${layer}-${finalProj}-${tag}`);
          expect([...result.keys()]).toEqual(finalProj ? ['final_proj', `layer_${layer}`] : [`layer_${layer}`]);
          expectClose(result.get(`layer_${layer}`)!, golden.get(`${tag}.layer.${layer}`));
          if (finalProj) expectClose(result.get('final_proj')!, golden.get(`${tag}.final_proj.${layer}`));
        }
      });
    }
  }

  it('the layer-3 graph holds no weight of layer 4 (later layers are not in the graph)', async () => {
    const model = contentvecModel();
    const { buildHubertGraph } = await import('../../src/writers/onnx/hubert.js');
    const g = buildHubertGraph(model, { variant: 'fp32', outputs: resolveOutputs(model, { outputLayer: 3 }) });
    const names = g.initializers.map((i) => i.name);
    expect(names.some((n) => n.startsWith('encoder.layers.2.'))).toBe(true);
    expect(names.filter((n) => n.startsWith('encoder.layers.3.'))).toEqual([]);
    expect(g.outputs.map((o) => o.name)).toEqual(['layer_3']);
  });
});

describe('k-means units on ContentVec layer 3 (fairseq learn_kmeans.py .bin) equal sklearn predict', () => {
  const golden = loadGolden('contentvec_legacy_L3_km10.upstream');
  it('units, the layer features, and the run-length encoding (--dedup-units)', async () => {
    for (const tag of ['single', 'batch'] as const) {
      const result = await run(contentvecModel(), { outputLayer: 3, kmeans: kmeansFixture('contentvec_legacy_L3_km10.bin'), dedupUnits: true }, tag, `km-${tag}`);
      expect([...result.keys()]).toEqual(['units', 'dedup_units', 'unit_durations', 'layer_3']);
      const units = result.get('units')!;
      const want = golden.get(`${tag}.units`)!;
      expect([...units.dims]).toEqual([...want.shape]);
      // no near-tie in this fixture (smallest margin 0.0559, FAMILY.md §2): every frame agrees
      expect(agreement(units.data as unknown as BigInt64Array, want.data as BigInt64Array)).toBe(1);
      expectClose(result.get('layer_3')!, golden.get(`${tag}.features`));
      const { dedup, durations } = runLengths(want.data as BigInt64Array, want.shape[0]!, want.shape[1]!);
      expect([...(result.get('dedup_units')!.data as unknown as BigInt64Array)]).toEqual(dedup);
      expect([...(result.get('unit_durations')!.data as unknown as BigInt64Array)]).toEqual(durations);
    }
  });
});

describe('bshall hubert-soft: units() with its 40-sample padding inside the graph', () => {
  const golden = loadGolden('hubert_soft.upstream');
  it('soft_units from raw audio (no caller-side padding), and layer 7 of the padded input', async () => {
    for (const tag of ['single', 'batch'] as const) {
      const result = await run(hubertSoftModel(), { finalProj: true }, tag, `soft-${tag}`);
      expect([...result.keys()]).toEqual(['soft_units', 'last_hidden_state']);
      expectClose(result.get('soft_units')!, golden.get(`${tag}.units`));
      expectClose(result.get('last_hidden_state')!, golden.get(`${tag}.layer.8`));
      const cut = await run(hubertSoftModel(), { outputLayer: 7 }, tag, `soft-7-${tag}`);
      expectClose(cut.get('layer_7')!, golden.get(`${tag}.layer.7`));
    }
  });
});

describe('bshall hubert-discrete: units at layer 7 with its k-means (torch dict)', () => {
  const golden = loadGolden('hubert_discrete.upstream');
  it('units equal HubertDiscrete.units() on every frame', async () => {
    for (const tag of ['single', 'batch'] as const) {
      const result = await run(hubertDiscreteModel(), { outputLayer: 7, kmeans: kmeansFixture('hubert_discrete_kmeans.pt') }, tag, `disc-${tag}`);
      const want = golden.get(`${tag}.units`)!;
      expect([...result.get('units')!.dims]).toEqual([...want.shape]);
      expect(agreement(result.get('units')!.data as unknown as BigInt64Array, want.data as BigInt64Array)).toBe(1);
      expectClose(result.get('layer_7')!, golden.get(`${tag}.layer.7`));
    }
  });
});
