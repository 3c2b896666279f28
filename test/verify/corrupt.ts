/** Helpers that make corrupted copies of a good converted folder. */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../src/readers/disk-safetensors.js';
import { MemoryTensor, type TensorData } from '../../src/tensor.js';
import { writeSafetensors } from '../../src/writers/disk-safetensors.js';

export function copyFolder(from: string, root: string): string {
  const to = mkdtempSync(join(root, 'copy-'));
  cpSync(from, to, { recursive: true });
  return to;
}

/** All tensors of <dir>/model.safetensors, in memory (so the file can be rewritten). */
export function loadTensors(dir: string): Map<string, MemoryTensor> {
  const file = readSafetensors(join(dir, 'model.safetensors'));
  try {
    return new Map([...file.tensors].map(([name, t]) => [name, new MemoryTensor(t.dtype, t.shape, t.bytes())]));
  } finally {
    file.close();
  }
}

export function saveTensors(dir: string, tensors: Map<string, TensorData>): void {
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
}

/** Rewrites model.safetensors through `edit`. */
export function editTensors(dir: string, edit: (tensors: Map<string, MemoryTensor>) => void): void {
  const tensors = loadTensors(dir);
  edit(tensors);
  saveTensors(dir, tensors);
}

/** Flips the lowest mantissa bit of element `flat` of a float32 tensor; returns [before, after]. */
export function flipBit(tensors: Map<string, MemoryTensor>, name: string, flat: number): [number, number] {
  const t = tensors.get(name)!;
  const bytes = new Uint8Array(t.bytes());
  const dv = new DataView(bytes.buffer);
  const before = dv.getFloat32(flat * 4, true);
  bytes[flat * 4]! ^= 1;
  const after = dv.getFloat32(flat * 4, true);
  tensors.set(name, new MemoryTensor(t.dtype, t.shape, bytes));
  return [before, after];
}

export function editConfig(dir: string, patch: Record<string, unknown>): void {
  const path = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  writeFileSync(path, JSON.stringify({ ...config, ...patch }, null, 2));
}

/**
 * Replaces every occurrence of `find` in a file with `replace` (same length); returns how many were replaced. Used to
 * tamper with one initializer of an ONNX graph without a protobuf editor.
 */
export function replaceBytes(path: string, find: Uint8Array, replace: Uint8Array): number {
  const bytes = new Uint8Array(readFileSync(path));
  let count = 0;
  outer: for (let i = 0; i + find.length <= bytes.length; i++) {
    for (let j = 0; j < find.length; j++) if (bytes[i + j] !== find[j]) continue outer;
    bytes.set(replace, i);
    count++;
  }
  writeFileSync(path, bytes);
  return count;
}
