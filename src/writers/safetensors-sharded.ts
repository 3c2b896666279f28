/**
 * Sharded safetensors output, as transformers' save_pretrained lays it out (huggingface_hub's
 * split_state_dict_into_shards): tensors are taken in the given order and packed greedily; a tensor that would tip
 * the current shard over the limit starts a new one; a tensor bigger than the limit gets a shard of its own, placed
 * where it was met. One shard → `model.safetensors`; more → `model-0000i-of-0000N.safetensors` plus
 * `model.safetensors.index.json` = {"metadata": {"total_size": tensor bytes}, "weight_map": {name: file}} with keys
 * sorted, indented by 2, newline-terminated (json.dumps(indent=2, sort_keys=True) + "\n"). Files go to a SinkFolder
 * (./disk-safetensors.ts writes them to a directory).
 */
import type { SinkFolder } from '../byte-source.js';
import type { TensorData } from '../tensor.js';
import { parseSize } from './size.js';
import { compareUtf8, planSafetensors, writePlannedTo, writePlannedToAsync, type SafetensorsPlan, type WrittenFile } from './safetensors.js';

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
  /** File names inside the folder. */
  files: Array<{ file: string; plan: SafetensorsPlan }>;
  index?: { file: string; text: string };
  totalBytes: number;
}

function layout(tensors: Iterable<[string, TensorData]>, options: WriteShardedOptions): Layout {
  const metadata = options.metadata === undefined ? { format: 'pt' } : options.metadata;
  const all = [...tensors];
  // plan the whole set once: validates names (duplicates across shards too) before anything is written
  planSafetensors(all, metadata);
  const shards = planShards(all, parseSize(options.maxShardBytes));
  if (shards.length <= 1) {
    const plan = planSafetensors(all, metadata);
    return { files: [{ file: 'model.safetensors', plan }], totalBytes: plan.bytes };
  }
  const files = shards.map((shard, i) => ({ file: shardName(i, shards.length), plan: planSafetensors(shard, metadata) }));
  const entries = shards.flatMap((shard, i) => shard.map(([name]) => [name, shardName(i, shards.length)] as const));
  entries.sort(([a], [b]) => compareUtf8(a, b));
  const totalSize = all.reduce((sum, [, t]) => sum + t.byteLength, 0);
  const text = indexJson(totalSize, entries);
  return { files, index: { file: 'model.safetensors.index.json', text }, totalBytes: files.reduce((s, f) => s + f.plan.bytes, 0) };
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

/** Writes the shards (and the index when there is more than one) into `folder`. */
export function writeShardedTo(folder: SinkFolder, tensors: Iterable<[string, TensorData]>, options: WriteShardedOptions): ShardedResult {
  const plan = layout(tensors, options);
  const progress = progressOver(plan.totalBytes, options.onProgress);
  const files = plan.files.map((f) => folder.create(f.file, (sink) => writePlannedTo(sink, f.plan, progress.forFile(f.plan.bytes))));
  if (!plan.index) return { files };
  folder.writeText(plan.index.file, plan.index.text);
  return { files, index: folder.pathOf(plan.index.file) };
}

/** writeShardedTo that yields to the event loop while writing. */
export async function writeShardedToAsync(folder: SinkFolder, tensors: Iterable<[string, TensorData]>, options: WriteShardedOptions): Promise<ShardedResult> {
  const plan = layout(tensors, options);
  const progress = progressOver(plan.totalBytes, options.onProgress);
  const files: WrittenFile[] = [];
  for (const f of plan.files) files.push(await folder.createAsync(f.file, (sink) => writePlannedToAsync(sink, f.plan, progress.forFile(f.plan.bytes)), f.plan.bytes));
  if (!plan.index) return { files };
  folder.writeText(plan.index.file, plan.index.text);
  return { files, index: folder.pathOf(plan.index.file) };
}
