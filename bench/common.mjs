// Shared by the benchmark scripts: the statistics and the scratch folder each of them needs.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

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
