import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createProgress, formatProgress, progressReporter } from '../../src/cli/progress.js';
import { cli } from '../helpers/cli.js';
import { fixture } from '../helpers/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'hubert-progress-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A non-TTY stream that records what is written. */
function recorder(): { stream: NodeJS.WriteStream; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = { isTTY: false, write: (s: string) => chunks.push(s) === 0 } as unknown as NodeJS.WriteStream;
  return { stream, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

/**
 * stderr lines without what varies with the machine's speed: durations, rates, and the periodic lines a slow step
 * prints in between (a counter part way, without "(done …)").
 */
const steady = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l && !/ [1-9]\d*\/\d+(, ETA .*)?$/.test(l))
    .map((l) => l.replace(/\(done in [\d.]+ s\)/, '(done)').replace(/, \d+ MB\/s/, ', N MB/s'));

describe('progress lines', () => {
  it('name their unit: bytes with a rate, a counted noun, or a stage; an ETA once a step runs long', () => {
    expect(formatProgress('writing safetensors', 12e6, 378e6, 'bytes', 10e6, 0.5)).toBe('writing safetensors: 12.0/378.0 MB, 20 MB/s');
    expect(formatProgress('onnx: write onnx/model.onnx', 12, 93, 'tensor', 12, 1)).toBe('onnx: write onnx/model.onnx: tensor 12/93');
    expect(formatProgress('reference forward: encoder', 3, 12, 'layer', 3, 6)).toBe('reference forward: encoder: layer 3/12, ETA 18 s');
    expect(formatProgress('hashing', 100e6, 1000e6, 'bytes', 100e6, 2)).toBe('hashing: 100.0/1000.0 MB, 50 MB/s, ETA 18 s');
    expect(formatProgress('hashing', 10e6, 1000e6, 'bytes', 10e6, 2)).toBe('hashing: 10.0/1000.0 MB, 5 MB/s, ETA 3 min 18 s');
    expect(formatProgress('fp32: load onnx/model.onnx into onnxruntime', 0, 1, '', 0, 0)).toBe('fp32: load onnx/model.onnx into onnxruntime …');
  });

  it('off a terminal: a line when a step starts and one when it ends, ETA dropped from the last', () => {
    const { stream, lines } = recorder();
    const reporter = progressReporter(createProgress(stream, true));
    reporter.report('fp32: load onnx/model.onnx into onnxruntime', 0, 1, '');
    reporter.report('fp32: load onnx/model.onnx into onnxruntime', 1, 1, '');
    reporter.report('encoder', 0, 12, 'layer');
    reporter.report('encoder', 5, 12, 'layer'); // within the 3 s interval: not printed
    reporter.report('encoder', 12, 12, 'layer');
    reporter.end();
    expect(steady(lines().join('\n'))).toEqual([
      'fp32: load onnx/model.onnx into onnxruntime …',
      'fp32: load onnx/model.onnx into onnxruntime (done)',
      'encoder: layer 0/12',
      'encoder: layer 12/12 (done)',
    ]);
  });

  it('verify reports each stage: the reference forward by conv layer and layer, each variant\'s session load and runs', () => {
    const out = join(work, 'base');
    expect(cli(['convert', fixture('checkpoints/fairseq_base_dict.pt'), '--out', out, '--onnx', 'fp32,q8', '--quiet']).status).toBe(0);
    const r = cli(['verify', out, '--source', fixture('checkpoints/fairseq_base_dict.pt')]);
    expect(r.status).toBe(0);
    expect(steady(r.stderr)).toEqual([
      'weights: compare every tensor with --source …',
      'weights: compare every tensor with --source (done)',
      'fp32: load onnx/model.onnx into onnxruntime …',
      'fp32: load onnx/model.onnx into onnxruntime (done)',
      'reference forward (float64; single, batch: 2 rows): feature encoder: conv layer 0/7',
      'reference forward (float64; single, batch: 2 rows): feature encoder: conv layer 7/7 (done)',
      'reference forward (float64; single, batch: 2 rows): encoder: layer 0/2',
      'reference forward (float64; single, batch: 2 rows): encoder: layer 2/2 (done)',
      'fp32: run onnx/model.onnx on single …',
      'fp32: run onnx/model.onnx on single (done)',
      'fp32: run onnx/model.onnx on batch …',
      'fp32: run onnx/model.onnx on batch (done)',
      'q8: load onnx/model_quantized.onnx into onnxruntime …',
      'q8: load onnx/model_quantized.onnx into onnxruntime (done)',
      'q8: run onnx/model_quantized.onnx on single …',
      'q8: run onnx/model_quantized.onnx on single (done)',
      'q8: run onnx/model_quantized.onnx on batch …',
      'q8: run onnx/model_quantized.onnx on batch (done)',
    ]);
    expect(cli(['verify', out, '--quiet']).stderr).toBe('');
  });

  it('convert reports bytes with a rate, tensors per ONNX file, the accuracy measurement and verify\'s stages', () => {
    const r = cli(['convert', fixture('checkpoints/fairseq_base_dict.pt'), '--out', join(work, 'converted'), '--onnx', 'fp32', '--verify']);
    expect(r.status).toBe(0);
    const lines = steady(r.stderr);
    expect(lines).toContain('writing safetensors: 0.1/0.1 MB, N MB/s (done)');
    expect(lines).toContain('onnx: write onnx/model.onnx: tensor 52/52 (done)');
    // with --verify and fp32 published, the accuracy figures come from verify's runs: no separate measurement step
    expect(lines.filter((l) => l.includes('measure each variant'))).toEqual([]);
    expect(lines).toContain('verify: reference forward (float64; single, batch: 2 rows): encoder: layer 2/2 (done)');
    expect(lines).toContain('verify: fp32: run onnx/model.onnx on batch (done)');
    expect(lines.filter((l) => /\b0\/1\b/.test(l))).toEqual([]);
  });

  it('convert without --verify reports the accuracy measurement as a stage', () => {
    const r = cli(['convert', fixture('checkpoints/fairseq_base_dict.pt'), '--out', join(work, 'converted-plain'), '--onnx', 'fp32']);
    expect(r.status).toBe(0);
    expect(steady(r.stderr)).toContain('onnx: measure each variant against fp32 (done)');
  });
});
