// Shared by the benchmark scripts: the statistics and the scratch folder each of them needs.
import { mkdtempSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = dirname(fileURLToPath(import.meta.url));
/** The build under test (`HUBERT_CONVERT_DIST` points at another) and its CLI. */
export const DIST = resolve(process.env.HUBERT_CONVERT_DIST ?? join(HERE, '..', 'dist'));
export const CLI = join(DIST, 'cli', 'main.js');
/** The interpreter of the Python peers. */
export const PYTHON = process.env.HUBERT_CONVERT_PYTHON ?? '/work/venv/bin/python';

// The Python peers' onnxruntime bundles the same telemetry SDK as onnxruntime-node (see
// src/verify/runtime-telemetry-off.ts): every process a benchmark starts inherits the switch.
process.env.ORT_DISABLE_TELEMETRY = '1';

/** The median (mean of the middle two for an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** A scratch folder under `parent`, removed by the returned function and on Ctrl-C. */
export function scratchDir(parent, prefix) {
  const dir = mkdtempSync(join(parent, prefix));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  return { dir, cleanup };
}
