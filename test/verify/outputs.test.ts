/**
 * verify on folders whose graphs carry an outputs record (layer cut, head, k-means units, padding, profile): every
 * output against the float64 reference; units exact except near-ties the measured feature difference explains; and
 * tampered folders (another quantizer, another head, a missing file) caught by the parity check, naming the output.
 */
import { copyFileSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { writeOutputFiles } from '../../src/output-files.js';
import { resolveOutputs } from '../../src/outputs.js';
import { type CheckResult, type VerifyReport, verify } from '../../src/verify/index.js';
import { writeHuggingFaceFolder } from '../../src/writers/folder.js';
import { buildOnnx } from '../../src/writers/onnx/index.js';
import { hubertDiscreteModel, kmeansFixture } from '../helpers/family.js';
import { fixture } from '../helpers/fixtures.js';
import { copyFolder } from './corrupt.js';

const root = mkdtempSync(join(tmpdir(), 'verify-outputs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const CONTENTVEC = fixture('hf/contentvec_legacy');
const KM10 = fixture('checkpoints/contentvec_legacy_L3_km10.bin');

function parity(report: VerifyReport): CheckResult {
  return report.checks.find((c) => c.name === 'parity')!;
}
const item = (report: VerifyReport, subject: string) => parity(report).items.find((i) => i.subject === subject);

describe('passing folders', () => {
  it('--output-layer 3 --final-proj: final_proj and layer_3 of every variant within tolerance', async () => {
    const out = join(root, 'cv-proj');
    await convert(CONTENTVEC, { out, outputLayer: 3, finalProj: true, onnx: ['fp32', 'fp16', 'int8'] });
    const report = await verify(out);
    expect(report.passed).toBe(true);
    expect(parity(report).items.map((i) => i.subject)).toEqual(
      ['fp32', 'fp16', 'int8'].flatMap((v) => ['single', 'batch'].flatMap((input) => [`${v} ${input} final_proj`, `${v} ${input} layer_3`])),
    );
    expect(item(report, 'fp32 single final_proj')!.comparison!.maxAbs).toBeLessThan(1e-4);
  });

  it('--kmeans --dedup-units: fp32 units agree on every frame; int8 differences are near-ties, reported with their gaps', async () => {
    const out = join(root, 'cv-km');
    await convert(CONTENTVEC, { out, outputLayer: 3, kmeans: KM10, dedupUnits: true, onnx: ['fp32', 'int8'] });
    const report = await verify(out);
    expect(report.passed).toBe(true);
    const fp32 = item(report, 'fp32 batch units')!;
    expect(fp32.details).toMatchObject({ frames: 98, agree: 98, nearTies: 0, unexplained: 0 });
    expect(fp32.message).toMatch(/^98\/98 frames agree; smallest reference margin \d/);
    const int8 = item(report, 'int8 batch units')!;
    expect(int8.passed).toBe(true);
    expect(int8.details!.unexplained).toBe(0);
    expect((int8.details!.agree as number) + (int8.details!.nearTies as number)).toBe(98);
    expect(item(report, 'fp32 batch dedup_units')!.message).toBe("equals the run-length encoding of the graph's units");
  });

  it('--profile so-vits-hubertsoft on the hubert-soft folder: [batch, 1, samples] input, 40-sample padding, soft_units', async () => {
    const out = join(root, 'soft');
    const { report: conversion } = await convert(fixture('hf/hubert_soft'), { out, profile: 'so-vits-hubertsoft' });
    expect(conversion.outputs).toMatchObject({ input_padding: 40, input_layout: 'batch,1,samples', outputs: ['soft_units', 'last_hidden_state'] });
    const report = await verify(out);
    expect(report.passed).toBe(true);
    expect(item(report, 'fp32 single soft_units')!.comparison!.shape).toEqual([1, 50, 8]);
  });

  it('hubert-discrete (library: write the folder, build the graphs): units at layer 7 with padding inside', async () => {
    const model = hubertDiscreteModel();
    const spec = resolveOutputs(model, { outputLayer: 7, kmeans: kmeansFixture('hubert_discrete_kmeans.pt') })!;
    const out = join(root, 'discrete');
    await writeHuggingFaceFolder({ kind: 'hf-folder', model, mapped: [], dropped: [], warnings: [] }, out, {
      source: { file: 'hubert_discrete.pt', bytes: 0, sha256: '' },
      addToFolder: async (dir, m) => ({ files: writeOutputFiles(dir, m, spec).files, onnx: await buildOnnx(m, dir, { variants: ['fp32'], outputs: spec }) }),
    });
    const report = await verify(out);
    expect(report.passed).toBe(true);
    expect(item(report, 'fp32 single units')!.details).toMatchObject({ frames: 50, agree: 50, unexplained: 0 });
  });
});

describe('tampered folders fail parity', () => {
  it('another quantizer of the same width in kmeans.safetensors: units differ beyond any near-tie', async () => {
    const base = join(root, 'tamper-km');
    await convert(CONTENTVEC, { out: base, outputLayer: 3, kmeans: KM10 });
    const other = join(root, 'other-km');
    await convert(CONTENTVEC, { out: other, outputLayer: 3, kmeans: fixture('checkpoints/hubert_discrete_kmeans.pt') });
    copyFileSync(join(other, 'kmeans.safetensors'), join(base, 'kmeans.safetensors'));
    const report = await verify(base);
    expect(report.passed).toBe(false);
    const units = item(report, 'fp32 single units')!;
    expect(units.passed).toBe(false);
    expect(units.message).toMatch(/frames agree; \d+ differ beyond a near-tie: frame \d+ of row 0: unit \d, the reference's \d is nearer by/);
    expect(item(report, 'fp32 single layer_3')!.passed).toBe(true);
  });

  it("another model's head in final_proj.safetensors: final_proj fails, layer_3 passes", async () => {
    const dir = copyFolder(join(root, 'cv-proj'), root);
    copyFileSync(fixture('hf/hubert_soft/proj.safetensors'), join(dir, 'final_proj.safetensors'));
    const report = await verify(dir);
    expect(parity(report).summary).toContain('could not complete');
    expect(parity(report).items[0]!.message).toMatch(/E_PROJECTION_FILE: .*final_proj\.safetensors must hold exactly final_proj\.weight and final_proj\.bias/);
  });

  it('a missing kmeans.safetensors is a failed parity item naming the file', async () => {
    const dir = copyFolder(join(root, 'tamper-km'), root);
    unlinkSync(join(dir, 'kmeans.safetensors'));
    const report = await verify(dir);
    expect(report.passed).toBe(false);
    expect(parity(report).items.map((i) => i.message)).toContain('onnx/model.onnx outputs k-means units, but the folder has no kmeans.safetensors to check them against');
  });
});
