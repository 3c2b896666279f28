// The float64 reference forward alone, on the rows verify computes (built-in `single` and `batch`: 2 distinct rows
// of 1 s), with 1 thread and with every core; optionally the same with another build (--baseline-dist).
// Usage: npm run build && node bench/reference.mjs --folder <HF folder> [--runs 3] [--baseline-dist <dist>]
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { median } from './common.mjs';

const { values: opts } = parseArgs({ options: { folder: { type: 'string' }, runs: { type: 'string', default: '3' }, 'baseline-dist': { type: 'string' } } });
if (!opts.folder) throw new Error('--folder <HF folder> is required (e.g. one written by bench/verify.mjs or convert)');
const DIST = resolve(join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'dist'));
const RUNS = Math.max(1, Number(opts.runs));

async function load(dist) {
  const { readHfFolder } = await import(join(dist, 'readers', 'hf-folder.js'));
  const { builtInInputs } = await import(join(dist, 'verify', 'inputs.js'));
  const { ReferenceCache } = await import(join(dist, 'verify', 'reference-cache.js'));
  const gemm = await import(join(dist, 'verify', 'reference', 'parallel-gemm.js')).catch(() => null);
  return { readHfFolder, builtInInputs, ReferenceCache, gemm };
}

async function time(dist, threads) {
  const { readHfFolder, builtInInputs, ReferenceCache, gemm } = await load(dist);
  if (threads && gemm) gemm.setReferenceThreads(threads);
  const folder = readHfFolder(resolve(opts.folder));
  const model = folder.model ?? folder;
  const inputs = builtInInputs(model.preprocessor);
  const seconds = [];
  for (let i = 0; i < RUNS; i++) {
    const cache = new ReferenceCache(model);
    const t0 = performance.now();
    const requests = inputs.map((input) => ({ inputValues: input.inputValues, batch: input.batch, length: input.length, mask: null, hiddenStates: false }));
    if (cache.prepare) cache.prepare(requests);
    else for (const r of requests) cache.get(r);
    seconds.push((performance.now() - t0) / 1000);
  }
  folder.close?.();
  return median(seconds);
}

const rows = [];
rows.push(['this build, 1 thread', await time(DIST, 1)]);
rows.push([`this build, ${availableParallelism()} threads`, await time(DIST, availableParallelism())]);
if (opts['baseline-dist']) rows.push([`baseline (${opts['baseline-dist']})`, await time(resolve(opts['baseline-dist']), 0)]);
console.log(`reference forward of the built-in inputs (2 rows of 1 s, unmasked), median of ${RUNS}:`);
for (const [name, s] of rows) console.log(`  ${name}: ${s.toFixed(2)} s`);
process.exit(0);
