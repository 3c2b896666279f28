/**
 * The --profile graphs called exactly as the projects' ONNX code calls them (docs/PROFILES.md cites the lines):
 *   RVC  infer/lib/infer_pack/onnx_inference.py ContentVec.forward:
 *        feats = np.expand_dims(np.expand_dims(wav16k, 0), 0)           → [1, 1, T] float32
 *        self.model.run(None, {self.model.get_inputs()[0].name: feats})[0] → [1, T', C]
 *   so-vits-svc vencoder/*_Onnx.py encoder: feats.view(1, -1).unsqueeze(0) → [1, 1, T];
 *        onnx_input = {self.model.get_inputs()[0].name: feats}; logits = self.model.run(None, onnx_input); logits[0]
 * Here: the first input by session.inputNames[0], shape [1, 1, T], the first output by session.outputNames[0], and
 * its values against the original projects' goldens (the tiny ContentVec's "layer 9" is its layer 3, "layer 12" its
 * layer 4, FAMILY.md §2).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import type { HfModel } from '../../src/model.js';
import { resolveOutputs } from '../../src/outputs.js';
import { PROFILES } from '../../src/profiles.js';
import { buildOnnx } from '../../src/writers/onnx/index.js';
import { contentvecModel, hubertSoftModel } from '../helpers/family.js';
import { loadGolden, maxAbsDiff } from './helpers.js';

const out = mkdtempSync(join(tmpdir(), 'onnx-profiles-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const wav16k = loadGolden('inputs').get('input.single')!.data as Float32Array; // one mono utterance, 16000 samples

/** Their call, transcribed: first input by position, [1, 1, T], run(None, ...)[0]. */
async function callLikeTheProjects(path: string): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(path);
  try {
    const feats = new ort.Tensor('float32', wav16k, [1, 1, wav16k.length]);
    const outputs = await session.run({ [session.inputNames[0]!]: feats });
    return outputs[session.outputNames[0]!]!;
  } finally {
    await session.release();
  }
}

async function profileGraph(model: HfModel, profile: string, outputLayer: number | undefined, name: string): Promise<string> {
  const warnings: string[] = [];
  const spec = resolveOutputs(model, { profile, ...(outputLayer !== undefined ? { outputLayer } : {}) }, warnings)!;
  await buildOnnx(model, join(out, name), { variants: ['fp32'], outputs: spec });
  return join(out, name, 'onnx/model.onnx');
}

const cases = [
  { profile: 'rvc-v1', layer: 3, golden: 'contentvec_legacy.upstream', key: 'single.final_proj.3', model: contentvecModel },
  { profile: 'rvc-v2', layer: 4, golden: 'contentvec_legacy.upstream', key: 'single.layer.4', model: contentvecModel },
  { profile: 'so-vits-vec256l9', layer: 3, golden: 'contentvec.upstream', key: 'single.final_proj.3', model: contentvecModel },
  { profile: 'so-vits-vec768l12', layer: 4, golden: 'contentvec.upstream', key: 'single.layer.4', model: contentvecModel },
  { profile: 'so-vits-hubertsoft', layer: undefined, golden: 'hubert_soft.upstream', key: 'single.units', model: hubertSoftModel },
] as const;

describe.each(cases)('--profile $profile', ({ profile, layer, golden, key, model }) => {
  it(`accepts [1, 1, T] float32 raw audio as its first input; its first output is [1, frames, C] = ${golden} ${key} within 1e-3`, async () => {
    const path = await profileGraph(model(), profile, layer, profile);
    const first = await callLikeTheProjects(path);
    const want = loadGolden(golden).get(key)!;
    expect(first.type).toBe('float32');
    expect(first.dims).toEqual(want.shape);
    expect(maxAbsDiff(first.data as Float32Array, want.data as Float32Array)).toBeLessThan(1e-3);
  });
});

describe('profile choice', () => {
  it('the table follows the projects: layers, heads, padding and drop-in file names', () => {
    expect(Object.values(PROFILES).map((p) => [p.name, p.layer ?? 'all', p.projection, p.inputPadding, p.dropInAs])).toEqual([
      ['rvc-v1', 9, true, 0, 'pretrained/vec-256-layer-9.onnx'],
      ['rvc-v2', 12, false, 0, 'pretrained/vec-768-layer-12.onnx'],
      ['so-vits-vec256l9', 9, true, 0, 'pretrain/vec-256-layer-9.onnx'],
      ['so-vits-vec768l12', 12, false, 0, 'pretrain/vec-768-layer-12.onnx'],
      ['so-vits-hubertsoft', 'all', true, 40, 'pretrain/hubert-soft.onnx'],
    ]);
  });

  it('so-vits resolves to hubertsoft for a model with a proj head; rvc and so-vits are otherwise ambiguous (exit 2)', () => {
    expect(resolveOutputs(hubertSoftModel(), { profile: 'so-vits' })!.profile!.name).toBe('so-vits-hubertsoft');
    for (const profile of ['rvc', 'so-vits']) {
      expect(() => resolveOutputs(contentvecModel(), { profile })).toThrow(expect.objectContaining({ code: 'E_PROFILE_AMBIGUOUS', exitCode: 2 }));
    }
    expect(() => resolveOutputs(contentvecModel(), { profile: 'rvc-v3' })).toThrow(expect.objectContaining({ code: 'E_PROFILE_UNKNOWN', exitCode: 2 }));
  });

  it('a profile layer beyond the model is a usage error naming --output-layer; an explicit layer is kept with a warning', () => {
    expect(() => resolveOutputs(contentvecModel(), { profile: 'rvc-v1' })).toThrow(expect.objectContaining({ code: 'E_PROFILE_LAYER', exitCode: 2, message: expect.stringContaining('--output-layer') }));
    const warnings: string[] = [];
    const spec = resolveOutputs(contentvecModel(), { profile: 'rvc-v1', outputLayer: 3 }, warnings)!;
    expect(spec.layer).toBe(3);
    expect(spec.channelAxis).toBe(true);
    expect(warnings.join('\n')).toMatch(/expects layer 9.*layer 3/);
    expect(warnings.join('\n')).toMatch(/expects 256 channels; this graph's first output has 8/);
  });
});
