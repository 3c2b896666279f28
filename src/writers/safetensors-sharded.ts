/**
 * Sharded safetensors output, as transformers' save_pretrained lays it out (huggingface_hub's
 * split_state_dict_into_shards): tensors are taken in the given order and packed greedily; a tensor that would tip
 * the current shard over the limit starts a new one; a tensor bigger than the limit gets a shard of its own, placed
 * where it was met. One shard → `model.safetensors`; more → `model-0000i-of-0000N.safetensors` plus
 * `model.safetensors.index.json` = {"metadata": {"total_size": tensor bytes}, "weight_map": {name: file}} with keys
 * sorted, indented by 2, newline-terminated (json.dumps(indent=2, sort_keys=True) + "\n").
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TensorData } from '../tensor.js';
import { writeFileAtomic } from './atomic.js';
import { parseSize } from './size.js';
import { planSafetensors, writePlanned, writePlannedAsync, type SafetensorsPlan, type WrittenFile } from './safetensors.js';

export interface WriteShardedOptions {
  /** Largest shard, in bytes of tensor data (a number, or a size string such as "5GB"). */
  maxShardBytes: number | string;
  metadata?: Record<string, string> | null;
  /** (bytes written, total bytes) over all files together. */
  onProgress?: (done: number, total: number) => void;
}

export interface ShardedResult {
  files: WrittenFile[];
  /** Path of model.safetensors.index.json when the model was split. */
  index?: string;
}

/** Groups tensors into shards the way huggingface_hub does. */
export function planShards(tensors: Iterable<[string, TensorData]>, maxShardBytes: number): Array<Array<[string, TensorData]>> {
  const shards: Array<Array<[string, TensorData]>> = [];
  let current: Array<[string, TensorData]> = [];
  let currentBytes = 0;
  for (const entry of tensors) {
    const size = entry[1].byteLength;
    if (size > maxShardBytes) {
      shards.push([entry]);
      continue;
    }
    if (currentBytes + size > maxShardBytes) {
      shards.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(entry);
    currentBytes += size;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

function shardName(i: number, n: number): string {
  const pad = (k: number) => String(k).padStart(5, '0');
  return `model-${pad(i + 1)}-of-${pad(n)}.safetensors`;
}

interface Layout {
  files: Array<{ path: string; plan: SafetensorsPlan }>;
  index?: { path: string; text: string };
  totalBytes: number;
}

function layout(dir: string, tensors: Iterable<[string, TensorData]>, options: WriteShardedOptions): Layout {
  const metadata = options.metadata === undefined ? { format: 'pt' } : options.metadata;
  const all = [...tensors];
  // plan the whole set once: validates names (duplicates across shards too) before anything is written
  planSafetensors(all, metadata);
  const shards = planShards(all, parseSize(options.maxShardBytes));
  if (shards.length <= 1) {
    const plan = planSafetensors(all, metadata);
    return { files: [{ path: join(dir, 'model.safetensors'), plan }], totalBytes: plan.bytes };
  }
  const files = shards.map((shard, i) => ({ path: join(dir, shardName(i, shards.length)), plan: planSafetensors(shard, metadata) }));
  const entries = shards.flatMap((shard, i) => shard.map(([name]) => [name, shardName(i, shards.length)] as const));
  entries.sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  const totalSize = all.reduce((sum, [, t]) => sum + t.byteLength, 0);
  const text = indexJson(totalSize, entries);
  return { files, index: { path: join(dir, 'model.safetensors.index.json'), text }, totalBytes: files.reduce((s, f) => s + f.plan.bytes, 0) };
}

/** json.dumps(index, indent=2, sort_keys=True) + "\n", written by hand so integer-like names keep their place. */
function indexJson(totalSize: number, sortedEntries: ReadonlyArray<readonly [string, string]>): string {
  const str = (s: string) => JSON.stringify(s).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const map = sortedEntries.map(([name, file]) => `    ${str(name)}: ${str(file)}`).join(',\n');
  return `{\n  "metadata": {\n    "total_size": ${totalSize}\n  },\n  "weight_map": {\n${map}\n  }\n}\n`;
}

function progressOver(total: number, onProgress?: (done: number, total: number) => void) {
  let before = 0;
  return {
    forFile: (bytes: number) => {
      const offset = before;
      before += bytes;
      return onProgress ? (done: number) => onProgress(offset + done, total) : undefined;
    },
  };
}

export function writeShardedSafetensors(dir: string, tensors: Iterable<[string, TensorData]>, options: WriteShardedOptions): ShardedResult {
  const plan = layout(dir, tensors, options);
  mkdirSync(dir, { recursive: true });
  const progress = progressOver(plan.totalBytes, options.onProgress);
  const files = plan.files.map((f) => writePlanned(f.path, f.plan, progress.forFile(f.plan.bytes)));
  if (!plan.index) return { files };
  writeFileAtomic(plan.index.path, plan.index.text);
  return { files, index: plan.index.path };
}

/** writeShardedSafetensors that yields to the event loop while writing (see writeSafetensorsAsync). */
export async function writeShardedSafetensorsAsync(dir: string, tensors: Iterable<[string, TensorData]>, options: WriteShardedOptions): Promise<ShardedResult> {
  const plan = layout(dir, tensors, options);
  mkdirSync(dir, { recursive: true });
  const progress = progressOver(plan.totalBytes, options.onProgress);
  const files: WrittenFile[] = [];
  for (const f of plan.files) files.push(await writePlannedAsync(f.path, f.plan, progress.forFile(f.plan.bytes)));
  if (!plan.index) return { files };
  writeFileAtomic(plan.index.path, plan.index.text);
  return { files, index: plan.index.path };
}
