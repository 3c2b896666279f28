import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { buildOnnx } from '../../src/writers/onnx/index.js';
import { convertibleFixtures, cosine, loadGolden, loadHfModel, maxAbsDiff, runGraph } from './helpers.js';
const ROOT = process.env.ROOT ?? '/tmp/onnxdev/';
it('dev parity', async () => {
  for (const name of convertibleFixtures(ROOT)) {
    const model = loadHfModel(join(ROOT, 'hf', name));
    const gold = loadGolden(join(ROOT, 'golden', `${name}.safetensors`));
    const out = join('/tmp/onnxdev/out', name);
    const files = await buildOnnx(model, out, { variants: (process.env.V ?? 'fp32,fp16,int8').split(',') as any, hiddenStates: true });
    for (const f of files) {
      const line: string[] = [];
      for (const tag of ['single', 'batch']) {
        const feeds = { input_values: gold.get(`input.${tag}`)!, attention_mask: gold.get('input.batch_mask')! };
        if (tag === 'single') feeds.attention_mask = { shape: [1, 16000], data: new BigInt64Array(16000).fill(1n) };
        const res = await runGraph(join(out, f.file), feeds);
        let worst = 0, worstName = '', minCos = 1;
        for (const [k, v] of res) {
          const g = gold.get(`${tag}.${k}`);
          if (!g) { line.push(`no golden ${k}`); continue; }
          const d = maxAbsDiff(v.data, g.data as Float32Array);
          if (d > worst) { worst = d; worstName = k; }
          minCos = Math.min(minCos, cosine(v.data, g.data as Float32Array));
        }
        line.push(`${tag}: maxAbs ${worst.toExponential(2)} (${worstName}) minCos ${minCos.toFixed(6)}`);
      }
      console.log(name, f.variant, f.bytes, line.join(' | '));
    }
  }
});
