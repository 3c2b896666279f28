import * as ort from 'onnxruntime-node';
import { readOnnxModel } from '/work/wt/piecewise/dist/readers/onnx-model.js';
import { planPieces, encodePiece, ORT_TENSOR_TYPES } from '/work/wt/piecewise/dist/verify/piecewise.js';
import { openInputFile } from '/work/wt/piecewise/dist/node-files.js';
import { dirname } from 'node:path';
const path = process.argv[2]; const budget = Number(process.argv[3]);
const src = openInputFile(path, {});
const idx = readOnnxModel(src);
console.log(idx.nodes.length, 'nodes', idx.initializers.length, 'inits', idx.inputs.map(i=>[i.name,i.elemType,i.rank]), idx.outputs.map(i=>i.name));
const plan = planPieces(idx, budget);
console.log(plan.kind, plan.cost, plan.pieces?.map(p => [p.start, p.end, p.cost, p.inputs.join('|'), p.outputs.join('|')]));
const L = 16000;
const x = new Float32Array(L).map((_, i) => Math.sin(i / 10));
const feeds0 = { input_values: new ort.Tensor('float32', x, [1, L]) };
if (idx.inputs.some(i => i.name === 'attention_mask')) feeds0.attention_mask = new ort.Tensor('int64', new BigInt64Array(L).fill(1n), [1, L]);
const opts = { graphOptimizationLevel: 'all', extra: { session: { disable_prepacking: '1', model_external_initializers_file_folder_path: dirname(path) } } };
const whole = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'all' });
const w = await whole.run(feeds0); await whole.release();
const state = new Map(Object.entries(feeds0)); const types = new Map();
for (const [k, p] of plan.pieces.entries()) {
  const bytes = encodePiece(idx, src, p, k, types);
  const s = await ort.InferenceSession.create(bytes, opts);
  const feeds = {}; for (const n of s.inputNames) feeds[n] = state.get(n);
  const out = await s.run(feeds); await s.release();
  for (const [n, t] of Object.entries(out)) { state.set(n, t); types.set(n, { elemType: ORT_TENSOR_TYPES[t.type], rank: t.dims.length }); }
}
for (const o of idx.outputs) { const a = w[o.name].data, b = state.get(o.name).data; let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); console.log(o.name, a.length, 'maxdiff', m); }
