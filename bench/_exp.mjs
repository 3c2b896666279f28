import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
const D = '/work/wt/onnx-variants/dist';
const { readSafetensors } = await import(`${D}/readers/safetensors.js`);
const { buildOnnx } = await import(`${D}/writers/onnx/index.js`);
const hf = '/tmp/q8w/hf';
const config = JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8'));
const model = { architecture: 'HubertModel', config, preprocessor: {}, tensors: new Map(readSafetensors(join(hf, 'model.safetensors')).tensors) };
function npy(path) { const b = readFileSync(path); const hl = b.readUInt16LE(8); const off = 10 + hl; return new Float32Array(b.buffer.slice(b.byteOffset + off, b.byteOffset + b.length)); }
const input = npy('/tmp/q8w/input.npy');
const torch = npy('/tmp/q8w/peer/torch.npy');
const cos = (a, b) => { let d = 0, x = 0, y = 0; for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; x += a[i] * a[i]; y += b[i] * b[i]; } return d / Math.sqrt(x * y); };
const recipes = JSON.parse(process.argv[2]);
const graphs = [];
for (const [label, r] of Object.entries(recipes)) {
  let path;
  if (r.file) path = r.file;
  else {
    const dir = `/tmp/q8w/exp-${label}`; mkdirSync(dir, { recursive: true });
    const keep = r.keep ? new RegExp(r.keep) : null;
    const [f] = await buildOnnx(model, dir, { variants: [r.variant], tuning: { ...(r.linear ? { linear: r.linear } : {}), ...(keep ? { keepFloat: (n) => keep.test(n) } : {}) } });
    path = join(dir, f.file);
  }
  const s = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'all', intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential' });
  const feeds = { input_values: new ort.Tensor('float32', input, [1, input.length]) };
  const out = (await s.run(feeds))[s.outputNames[0]].data;
  graphs.push({ label, s, feeds, c: cos(out, torch), t: [] });
}
const rounds = Number(process.argv[3] ?? 3);
for (let r = 0; r < rounds; r++) for (const g of graphs) { const t0 = performance.now(); await g.s.run(g.feeds); g.t.push(performance.now() - t0); }
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const base = graphs[0];
for (const g of graphs) console.log(`${g.label.padEnd(14)} cos ${g.c.toFixed(6)}  1-cos ${(1 - g.c).toExponential(2)}  median ${med(g.t).toFixed(0)} ms  speed vs ${base.label} ${(med(base.t) / med(g.t)).toFixed(2)}x`);
