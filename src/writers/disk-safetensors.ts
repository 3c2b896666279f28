/** Safetensors files and folders on disk: the format writers of ./safetensors.ts and ./safetensors-sharded.ts over files written atomically. */
import { NodeSinkFolder, createFile, createFileAsync } from '../node-files.js';
import type { TensorData } from '../tensor.js';
import { type ShardedResult, type WriteShardedOptions, writeShardedTo, writeShardedToAsync } from './safetensors-sharded.js';
import { type SafetensorsPlan, type WriteSafetensorsOptions, type WrittenFile, planSafetensors, writePlannedTo, writePlannedToAsync } from './safetensors.js';

const planOf = (tensors: Iterable<[string, TensorData]>, options: WriteSafetensorsOptions) =>
  planSafetensors(tensors, options.metadata === undefined ? { format: 'pt' } : options.metadata);

/** Writes one safetensors file (synchronously); it appears at `path` atomically. */
export function writeSafetensors(path: string, tensors: Iterable<[string, TensorData]>, options: WriteSafetensorsOptions = {}): WrittenFile {
  return writePlanned(path, planOf(tensors, options), options.onProgress);
}

/** Like writeSafetensors, but gives the event loop a turn every ~64 MiB, so Ctrl-C and progress output stay live. */
export async function writeSafetensorsAsync(path: string, tensors: Iterable<[string, TensorData]>, options: WriteSafetensorsOptions = {}): Promise<WrittenFile> {
  return writePlannedAsync(path, planOf(tensors, options), options.onProgress);
}

export function writePlanned(path: string, plan: SafetensorsPlan, onProgress?: (done: number, total: number) => void): WrittenFile {
  return createFile(path, (sink) => writePlannedTo(sink, plan, onProgress));
}

export async function writePlannedAsync(path: string, plan: SafetensorsPlan, onProgress?: (done: number, total: number) => void): Promise<WrittenFile> {
  return createFileAsync(path, (sink) => writePlannedToAsync(sink, plan, onProgress), { expectedBytes: plan.bytes });
}

/** model.safetensors, or shards + model.safetensors.index.json, in `dir` (created if needed). */
export function writeShardedSafetensors(dir: string, tensors: Iterable<[string, TensorData]>, options: WriteShardedOptions): ShardedResult {
  return writeShardedTo(new NodeSinkFolder(dir), tensors, options);
}

/** writeShardedSafetensors that yields to the event loop while writing (see writeSafetensorsAsync). */
export async function writeShardedSafetensorsAsync(dir: string, tensors: Iterable<[string, TensorData]>, options: WriteShardedOptions): Promise<ShardedResult> {
  return writeShardedToAsync(new NodeSinkFolder(dir), tensors, options);
}
