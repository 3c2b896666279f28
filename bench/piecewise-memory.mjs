// Peak RSS of one ONNX variant run in a fresh process, whole or piecewise (src/verify/piecewise.ts), on verify's two
// input shapes (1 × 1 s and 2 × 1 s): how much a piece really costs, per variant and budget.
// Usage (after npm run build): node bench/piecewise-memory.mjs <folder> <variant> <budget MiB, 0 = whole>
// Prints one JSON line: pieces, the largest piece's estimate (MiB), the process's RSS before (base) and its peak
// (VmHWM), wall seconds, and a checksum of the output (to compare runs).
import { openVariant, openGraph } from '../dist/verify/onnx-runner.js';
import { readFileSync } from 'node:fs';
const [dir, variant, budgetMiB] = process.argv.slice(2);
const hwm = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
const L = 16000;
const x = new Float32Array(L).map((_, i) => Math.sin(i / 10) * 0.1);
const xb = new Float32Array(2 * L).map((_, i) => Math.sin(i / 7) * 0.1);
const base = hwm();
const t0 = performance.now();
const g = Number(budgetMiB) > 0 ? await openVariant(dir, variant, Number(budgetMiB) * 2 ** 20) : await openGraph(dir, variant);
let out;
if (g.runAll) out = await g.runAll([{ name: 's', inputValues: x, batch: 1, length: L, mask: null }, { name: 'b', inputValues: xb, batch: 2, length: L, mask: null }]);
else out = [await g.run(x, 1, L, null), await g.run(xb, 2, L, null)];
await g.release();
const o = out[0].last_hidden_state.data;
console.log(JSON.stringify({ variant, budgetMiB, pieces: g.pieces?.pieces ?? 1, est: g.pieces ? Math.round(g.pieces.largestPieceBytes / 2 ** 20) : null, base: Math.round(base), peakMiB: Math.round(hwm()), s: ((performance.now() - t0) / 1000).toFixed(1), sum: o.reduce((a, b) => a + b, 0).toFixed(6) }));
