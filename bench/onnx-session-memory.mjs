#!/usr/bin/env node
/**
 * One onnxruntime-node session's memory, for finding where convert --verify peaks (bench/RESULTS.md, "x-large end to
 * end"). Loads <graph> with the given options, runs a padded 2 × 1 s batch, releases it, and prints VmHWM (peak RSS),
 * VmRSS, RssAnon and RssFile (file-backed pages: mapped external data) in MiB after each step. Run one graph per process.
 *
 *   node bench/onnx-session-memory.mjs <dir>/onnx/model.onnx [default|noprepack|basic|disabled|noarena|nopattern]...
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

const [file, ...modes] = process.argv.slice(2);
if (!file) {
  console.error('usage: onnx-session-memory.mjs <graph.onnx> [default|noprepack|basic|disabled|noarena|nopattern]...');
  process.exit(2);
}
const memory = () => Object.fromEntries(readFileSync('/proc/self/status', 'utf8').split('\n')
  .filter((l) => /^(VmHWM|VmRSS|RssAnon|RssFile):/.test(l))
  .map((l) => { const [k, v] = l.split(':'); return [k, Math.round(parseInt(v, 10) / 1024)]; }));
const options = { graphOptimizationLevel: 'all' };
for (const mode of modes) {
  if (mode === 'noprepack') options.extra = { session: { disable_prepacking: '1' } };
  else if (mode === 'noarena') options.enableCpuMemArena = false;
  else if (mode === 'nopattern') options.enableMemPattern = false;
  else if (mode === 'basic' || mode === 'disabled' || mode === 'extended') options.graphOptimizationLevel = mode;
  else if (mode !== 'default') throw new Error(`unknown mode ${mode}`);
}
let t = performance.now();
const session = await ort.InferenceSession.create(file, options);
console.log(`load ${(performance.now() - t).toFixed(0)} ms`, JSON.stringify(memory()));
const n = 16000;
const x = new Float32Array(2 * n).map((_, i) => Math.sin(i / 7) * 0.1);
const feeds = { input_values: new ort.Tensor('float32', x, [2, n]) };
if (session.inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(2 * n).fill(1n), [2, n]);
t = performance.now();
await session.run(feeds);
console.log(`run ${(performance.now() - t).toFixed(0)} ms`, JSON.stringify(memory()));
await session.release();
console.log('released', JSON.stringify(memory()));
