/**
 * The issue-12 flags through the CLI: what the folder holds, and each misuse as a one-line typed error with its exit
 * code, before anything is written.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/errors.js';
import { cli } from '../helpers/cli.js';
import { fixture } from '../helpers/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'hubert-cli-outputs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const CONTENTVEC = fixture('hf/contentvec_legacy');
const KM10 = fixture('checkpoints/contentvec_legacy_L3_km10.bin');

describe('convert --output-layer / --final-proj / --kmeans / --dedup-units / --profile', () => {
  it('writes the head and the centres beside the model, an fp32 graph, and the outputs record; --verify passes', () => {
    const out = join(work, 'units');
    const r = cli(['convert', CONTENTVEC, '--out', out, '--output-layer', '3', '--final-proj', '--kmeans', KM10, '--dedup-units', '--verify', '--json', '-q']);
    expect(r.status).toBe(0);
    const { report, verification } = JSON.parse(r.stdout);
    expect(verification.passed).toBe(true);
    expect(report.outputs).toEqual({
      version: 1,
      outputs: ['units', 'dedup_units', 'unit_durations', 'final_proj', 'layer_3'],
      layer: 3,
      projection: { name: 'final_proj', file: 'final_proj.safetensors', out: 8 },
      kmeans: { file: 'kmeans.safetensors', tensor: 'cluster_centers', clusters: 10, dim: 16, source: 'contentvec_legacy_L3_km10.bin', format: 'joblib-sklearn' },
      dedup_units: true,
      input_padding: 0,
      input_layout: 'batch,samples',
      profile: null,
    });
    expect(report.files.map((f: { path: string }) => f.path)).toEqual(expect.arrayContaining(['final_proj.safetensors', 'kmeans.safetensors', 'onnx/model.onnx']));
    expect(readFileSync(join(out, 'onnx/model.onnx')).includes(Buffer.from('hubert_convert.outputs'))).toBe(true);
  });

  const misuse: Array<[string, string[], number, string, RegExp]> = [
    ['a layer beyond the model', ['--output-layer', '5'], EXIT_CODES.usage, 'E_OUTPUT_LAYER', /it has 4 transformer layers/],
    ['layer 0', ['--output-layer', '0'], EXIT_CODES.usage, 'E_USAGE', /layer number/],
    ['--kmeans without --output-layer', ['--kmeans', KM10], EXIT_CODES.usage, 'E_KMEANS_NEEDS_LAYER', /--output-layer N/],
    ['--dedup-units without --kmeans', ['--output-layer', '3', '--dedup-units'], EXIT_CODES.usage, 'E_DEDUP_NEEDS_KMEANS', /--kmeans FILE/],
    ['--profile with --kmeans', ['--profile', 'rvc-v2', '--output-layer', '4', '--kmeans', KM10], EXIT_CODES.usage, 'E_PROFILE_CONFLICT', /drop one/],
    ['--profile rvc (two contracts)', ['--profile', 'rvc'], EXIT_CODES.usage, 'E_PROFILE_AMBIGUOUS', /rvc-v1 \(pretrained\/vec-256-layer-9\.onnx\), rvc-v2/],
    ['a profile layer the tiny model lacks', ['--profile', 'so-vits-vec768l12'], EXIT_CODES.usage, 'E_PROFILE_LAYER', /pass --output-layer N/],
    ['a missing --kmeans file', ['--output-layer', '3', '--kmeans', join(work, 'nope.bin')], EXIT_CODES.io, 'E_NOT_FOUND', /--kmeans/],
  ];
  for (const [name, flags, exit, code, message] of misuse) {
    it(`${name}: exit ${exit}, ${code}, nothing written`, () => {
      const out = join(work, `bad-${code}`);
      const r = cli(['convert', CONTENTVEC, '--out', out, ...flags, '-q']);
      expect(r.status).toBe(exit);
      if (code !== 'E_USAGE') expect(r.stderr).toMatch(new RegExp(`error\\[${code}\\]`));
      expect(r.stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
    });
  }

  it('--final-proj on a model without a head: exit 2, E_NO_PROJECTION', () => {
    const r = cli(['convert', fixture('checkpoints/fairseq_base_dict.pt'), '--out', join(work, 'noproj'), '--final-proj', '-q']);
    expect([r.status, /error\[E_NO_PROJECTION\]/.test(r.stderr)]).toEqual([EXIT_CODES.usage, true]);
  });

  it('--kmeans of another width: exit 4, E_KMEANS_DIM', () => {
    const r = cli(['convert', fixture('checkpoints/fairseq_large_dictconfig.pt'), '--out', join(work, 'dim'), '--output-layer', '1', '--kmeans', KM10, '-q']);
    expect(r.status).toBe(EXIT_CODES.corrupt);
    expect(r.stderr).toMatch(/error\[E_KMEANS_DIM\].*width 16.*outputs 32 features/);
  });
});

describe('inspect: what a file offers', () => {
  it('a joblib k-means dump and a torch k-means dict are quantizers; a model lists its layers, head and profiles', () => {
    const json = (file: string) => {
      const r = cli(['inspect', fixture(`checkpoints/${file}`), '--json']);
      expect(r.status).toBe(0);
      return JSON.parse(r.stdout);
    };
    const km = json('contentvec_legacy_L3_km10.bin');
    expect([km.kind, km.format, km.offers]).toEqual(['kmeans-quantizer', 'joblib', { what: 'kmeans-quantizer', format: 'joblib-sklearn', estimator: 'sklearn.cluster._kmeans.MiniBatchKMeans', clusters: 10, dim: 16 }]);
    expect(json('hubert_discrete_kmeans.pt').offers).toEqual({ what: 'kmeans-quantizer', format: 'torch-dict', estimator: null, clusters: 10, dim: 16 });
    expect(json('fairseq_base_dict.pt').offers).toMatchObject({ what: 'model', layers: 2, projection: null, inputPadding: 0, profiles: [] });
  });
});
