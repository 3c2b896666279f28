/**
 * transformers.js, the downstream client, loads our folder offline (config.json + preprocessor_config.json + onnx/*)
 * with AutoModel + AutoProcessor for every dtype we write, and its outputs equal a direct onnxruntime-node run of the
 * same file on the processor's inputs.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoModel, AutoProcessor, env, type Tensor } from '@huggingface/transformers';
import { afterAll, describe, expect, it } from 'vitest';
import { buildOnnx, VARIANT_FILES } from '../../src/writers/onnx/index.js';
import { FIXTURES, loadHfModel, maxAbsDiff, runGraph } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'onnx-tjs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const DTYPES = [['fp32', 'fp32'], ['fp16', 'fp16'], ['q8', 'int8']] as const;

describe.each([
  ['fairseq_base_dict', 'last_hidden_state'],
  ['fairseq_large_dictconfig', 'last_hidden_state'],
  ['fairseq_ctc', 'logits'],
  ['superb_downstream', 'logits'],
])('%s', (name, output) => {
  it.each(DTYPES)(`AutoModel dtype %s gives our ${output}`, async (dtype, variant) => {
    const dir = join(root, name);
    cpSync(join(FIXTURES, 'hf', name, 'config.json'), join(dir, 'config.json'));
    cpSync(join(FIXTURES, 'hf', name, 'preprocessor_config.json'), join(dir, 'preprocessor_config.json'));
    await buildOnnx(loadHfModel(join(FIXTURES, 'hf', name)), dir, { variants: [variant] });
    env.allowRemoteModels = false;
    env.localModelPath = `${root}/`;

    const processor = await AutoProcessor.from_pretrained(name);
    const audio = new Float32Array(12345).map((_, i) => 0.3 * Math.sin(i / 7) + 0.1 * Math.sin(i / 3.1));
    const inputs = (await processor(audio)) as Record<string, Tensor>;
    const model = await AutoModel.from_pretrained(name, { dtype });
    const result = (await model(inputs)) as Record<string, Tensor>;
    await model.dispose();
    expect(Object.keys(result)).toEqual([output]);

    const feeds = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, { shape: t.dims, data: t.data as Float32Array | BigInt64Array }]));
    const ours = (await runGraph(join(dir, VARIANT_FILES[variant]), feeds)).get(output)!;
    expect(result[output]!.dims).toEqual(ours.dims);
    expect(maxAbsDiff(result[output]!.data as Float32Array, ours.data)).toBeLessThanOrEqual(1e-5);
  });
});
