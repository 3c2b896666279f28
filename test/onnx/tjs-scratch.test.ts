import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { AutoModel, AutoProcessor, env } from '@huggingface/transformers';
import { buildOnnx } from '../../src/writers/onnx/index.js';
import { FIXTURES, loadHfModel } from './helpers.js';
it('probe', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tjs-'));
  for (const name of ['fairseq_large_dictconfig', 'fairseq_ctc']) {
    const dir = join(root, name);
    cpSync(join(FIXTURES, 'hf', name, 'config.json'), join(dir, 'config.json'));
    cpSync(join(FIXTURES, 'hf', name, 'preprocessor_config.json'), join(dir, 'preprocessor_config.json'));
    await buildOnnx(loadHfModel(join(FIXTURES, 'hf', name)), dir, { variants: ['fp32', 'fp16', 'int8'] });
    env.allowRemoteModels = false; env.localModelPath = root + '/';
    const processor = await AutoProcessor.from_pretrained(name);
    const audio = new Float32Array(16000).map((_, i) => Math.sin(i / 10));
    const inputs = await processor(audio);
    console.log(Object.keys(inputs), inputs.input_values.dims);
    for (const dtype of ['fp32', 'fp16', 'q8'] as const) {
      try {
        const model = await AutoModel.from_pretrained(name, { dtype });
        const out = await model(inputs);
        console.log(name, dtype, Object.keys(out), out[Object.keys(out)[0]!].dims);
      } catch (e) { console.log(name, dtype, 'ERR', String(e).slice(0, 300)); }
    }
  }
});
