import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/errors.js';
import { verify } from '../../src/verify/index.js';
import { referenceForward } from '../../src/verify/reference/forward.js';
import { convOutputLength, receptiveField } from '../../src/verify/reference/frames.js';
import { minimumSamples } from '../../src/verify/reference/input-length.js';
import { buildOnnx } from '../../src/writers/onnx/index.js';
import { cli } from '../helpers/cli.js';
import { errorCode } from '../helpers/sandbox.js';
import { hfDir, loadHfModel } from './helpers.js';

const STANDARD = { kernels: [10, 3, 3, 3, 3, 2, 2], strides: [5, 2, 2, 2, 2, 2, 2] };
const work = mkdtempSync(join(tmpdir(), 'hubert-short-input-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A mono 16 kHz PCM16 .wav of `samples` samples. */
function wav(name: string, samples: number): string {
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.round(8000 * Math.sin(i / 7)), i * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(16000, 24);
  header.writeUInt32LE(32000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  const path = join(work, name);
  writeFileSync(path, Buffer.concat([header, data]));
  return path;
}

const SHORT_MESSAGE = /has 399 samples \(24\.94 ms\), fewer than the model's receptive field of 400 samples \(25 ms at 16 kHz\)/;

describe('inputs shorter than the receptive field', () => {
  it('the receptive field comes from the conv stack: 400 samples for the standard one, the least length making a frame for any stack', () => {
    expect(receptiveField(STANDARD.kernels, STANDARD.strides)).toBe(400);
    expect(convOutputLength(400, STANDARD.kernels, STANDARD.strides)).toBe(1);
    expect(convOutputLength(399, STANDARD.kernels, STANDARD.strides)).toBe(0);
    const stacks = [
      { kernels: [10, 3, 3, 3, 3, 2], strides: [5, 2, 2, 2, 2, 2] },
      { kernels: [4, 4], strides: [1, 3] },
      { kernels: [7], strides: [7] },
    ];
    for (const { kernels, strides } of stacks) {
      let least = 1;
      while (convOutputLength(least, kernels, strides) < 1) least++;
      expect(receptiveField(kernels, strides)).toBe(least);
    }
    expect(minimumSamples(loadHfModel(hfDir('fairseq_base_dict')).config)).toBe(400);
  });

  it('referenceForward refuses 399 samples in one line naming the minimum in samples and ms; 400 samples make one frame', () => {
    const model = loadHfModel(hfDir('fairseq_base_dict'));
    const run = (n: number) => referenceForward(model, { inputValues: new Float32Array(n).map((_, i) => Math.sin(i / 7)), batch: 1, length: n });
    let error: unknown;
    try {
      run(399);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'E_INPUT_TOO_SHORT', kind: 'usage', details: { samples: 399, minimumSamples: 400, minimumMs: 25 } });
    expect((error as Error).message).toMatch(SHORT_MESSAGE);
    expect((error as Error).message).not.toMatch(/\n/);
    expect(run(400).last_hidden_state!.shape).toEqual([1, 1, 32]);
  });

  it('the library verify() refuses a 399-sample --audio file before running any check', async () => {
    await expect(verify(hfDir('fairseq_base_dict'), { audio: [wav('short-lib.wav', 399)] })).rejects.toMatchObject({ code: 'E_INPUT_TOO_SHORT', exitCode: EXIT_CODES.usage });
  });

  it('the CLI says so in one line with exit 2', () => {
    const file = wav('short.wav', 399);
    const r = cli(['verify', hfDir('fairseq_base_dict'), '--audio', file]);
    expect(r.status).toBe(EXIT_CODES.usage);
    expect(errorCode(r.stderr)).toBe('E_INPUT_TOO_SHORT');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`--audio ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} ${SHORT_MESSAGE.source}`));
  });

  // What the README says about the ONNX graphs: onnxruntime refuses such an input in the last conv layer, which gets
  // one frame for a kernel of 2; at 400 samples the graphs make one frame.
  for (const name of ['fairseq_base_dict', 'fairseq_large_dictconfig']) {
    it(`${name}: onnxruntime refuses 399 samples in /feature_extractor.conv_layers.6/Conv (every variant); 400 give one frame`, async () => {
      const dir = join(work, name);
      const files = await buildOnnx(loadHfModel(hfDir(name)), dir, { variants: ['fp32', 'fp16', 'int8'] });
      for (const { file } of files) {
        const session = await ort.InferenceSession.create(join(dir, file), { logSeverityLevel: 4 });
        try {
          const feeds = (n: number) => ({
            input_values: new ort.Tensor('float32', new Float32Array(n).map((_, i) => Math.sin(i / 7)), [1, n]),
            ...(session.inputNames.includes('attention_mask') ? { attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]) } : {}),
          });
          await expect(session.run(feeds(399)), file).rejects.toThrow(/Non-zero status code returned while running Conv node\. Name:'\/feature_extractor\.conv_layers\.6\/Conv' Status Message: Invalid input shape: \{1\}/);
          const ok = await session.run(feeds(400));
          expect(ok[session.outputNames[0]!]!.dims, file).toEqual([1, 1, 32]);
        } finally {
          await session.release();
        }
      }
    });
  }
});
