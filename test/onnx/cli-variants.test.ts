/** `--onnx` takes transformers.js dtype names, alone or in any combination, through the built CLI. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/errors.js';
import { cli } from '../helpers/cli.js';
import { FIXTURES } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'onnx-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const BASE = join(FIXTURES, 'checkpoints', 'fairseq_base_dict.pt');

interface OnnxEntry { variant: string; file: string; accuracy: { reference: string; cosine: number } }

describe('convert --onnx <dtypes>', () => {
  it.each([
    ['q8', ['model_quantized.onnx']],
    ['q4', ['model_q4.onnx']],
    ['int8', ['model_int8.onnx']], // transformers.js's int8, no longer model_quantized.onnx
    ['fp16,bnb4', ['model_bnb4.onnx', 'model_fp16.onnx']],
  ])('--onnx %s writes %j and reports accuracy against an unpublished fp32 graph', (dtypes, files) => {
    const out = join(work, dtypes.replace(',', '-'));
    const r = cli(['convert', BASE, '--out', out, '--onnx', dtypes, '--json', '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const onnx = JSON.parse(r.stdout).report.onnx as OnnxEntry[];
    expect(onnx.map((o) => o.variant)).toEqual(dtypes.split(','));
    for (const o of onnx) expect(o.accuracy).toMatchObject({ reference: 'fp32 graph built for this measurement (not published)', cosine: expect.any(Number) });
    expect(readdirSync(join(out, 'onnx')).sort()).toEqual(files);
  });

  it('the summary says what the figures were measured against', () => {
    const r = cli(['convert', BASE, '--out', join(work, 'summary'), '--onnx', 'uint8', '--quiet']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ {2}uint8 +onnx\/model_uint8\.onnx +max abs \S+ +cosine 0\.99\d+$/m);
    expect(r.stdout).toContain('(fp32 not requested: compared with an fp32 graph built for the measurement, not published)');
  });

  it('refuses a name transformers.js does not have, listing the ones it does', () => {
    const r = cli(['convert', BASE, '--out', join(work, 'bad'), '--onnx', 'fp32,int4']);
    expect(r.status).toBe(EXIT_CODES.usage);
    expect(r.stderr).toBe('hubert-convert: error[E_BAD_OPTION]: --onnx takes transformers.js dtype names: fp32,fp16,q8,int8,uint8,q4,q4f16,bnb4; "int4" is not one of them\n');
  });
});
