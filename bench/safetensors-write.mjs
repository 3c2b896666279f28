// Writes a ~1 GB safetensors model from synthetic chunks generated in memory and reports throughput and peak RSS.
// Usage: npm run build && node bench/safetensors-write.mjs [--mb 1000] [--dir /tmp] [--shard 400MB] [--keep]
// The tensors never exist in memory as a whole: each yields its bytes through one reused 4 MiB buffer, so peak RSS
// measures the writer's own footprint. The output is deleted afterwards unless --keep.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeSafetensors } from '../dist/writers/disk-safetensors.js';
import { writeShardedSafetensors } from '../dist/writers/disk-safetensors.js';

const { values } = parseArgs({
  options: { mb: { type: 'string', default: '1000' }, dir: { type: 'string', default: tmpdir() }, shard: { type: 'string' }, keep: { type: 'boolean', default: false } },
});
const totalBytes = Number(values.mb) * 1e6;

// one 16 MiB pattern, generated once: tensors yield views of it, so the bench measures the writer, not the generator
const PATTERN = new Float32Array(4 << 20);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = ((i * 2654435761) % 1000) / 1000;
const PATTERN_BYTES = new Uint8Array(PATTERN.buffer);

/** A float32 tensor whose chunks are views of the shared pattern, never materialized as a whole. */
function syntheticTensor(numel, seed) {
  const byteLength = numel * 4;
  return {
    dtype: 'F32',
    shape: [numel],
    byteLength,
    bytes() {
      throw new Error('bench: the writer must stream');
    },
    *chunks(maxBytes = 4 << 20) {
      const step = Math.min(PATTERN_BYTES.byteLength, Math.max(4, maxBytes - (maxBytes % 4)));
      const start = (seed * 4096) % (PATTERN_BYTES.byteLength / 2);
      for (let at = 0; at < byteLength; at += step) {
        const n = Math.min(step, byteLength - at);
        yield PATTERN_BYTES.subarray(start % (PATTERN_BYTES.byteLength - n + 1), (start % (PATTERN_BYTES.byteLength - n + 1)) + n);
      }
    },
  };
}

// HuBERT-like mix: a few big matrices and many small vectors
const tensors = [];
let planned = 0;
for (let i = 0; planned < totalBytes; i++) {
  const numel = i % 4 === 3 ? 768 : Math.min(2_359_296, Math.ceil((totalBytes - planned) / 4));
  tensors.push([`encoder.layers.${Math.floor(i / 4)}.param_${i % 4}`, syntheticTensor(numel, i)]);
  planned += numel * 4;
}

const dir = mkdtempSync(join(values.dir, 'bench-safetensors-'));
const started = process.hrtime.bigint();
let files;
if (values.shard) files = writeShardedSafetensors(dir, tensors, { maxShardBytes: values.shard }).files;
else files = [writeSafetensors(join(dir, 'model.safetensors'), tensors)];
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
const report = {
  tensors: tensors.length,
  files: files.length,
  bytes,
  seconds: Number(seconds.toFixed(3)),
  MBps: Number((bytes / 1e6 / seconds).toFixed(1)),
  peakRssMiB: Number((process.resourceUsage().maxRSS / 1024).toFixed(1)),
  sha256: files.map((f) => f.sha256.slice(0, 16)),
};
console.log(JSON.stringify(report, null, 2));
if (values.keep) console.log(`kept in ${dir}`);
else rmSync(dir, { recursive: true, force: true });
