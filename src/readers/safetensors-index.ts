/**
 * The weights of a Hugging Face folder: either one `model.safetensors` or shards listed by
 * `model.safetensors.index.json` (`{"metadata": {...}, "weight_map": {tensor: shard file}}`), as transformers writes
 * them. The index is untrusted input like any file: shard names must be plain file names inside the folder, every
 * shard must exist, every tensor must sit in the shard the index names, and no tensor may appear twice.
 */
import type { SourceFolder } from '../byte-source.js';
import { CorruptInputError, FileSystemError } from '../errors.js';
import { decodeUtf8, isPlainObject, parseBoundedJson } from './json-bounded.js';
import { MAX_SAFETENSORS_ENTRIES, MAX_SAFETENSORS_HEADER_BYTES, parseSafetensors, type SafetensorsFile, type SafetensorsTensor } from './safetensors.js';

export const SAFETENSORS_SINGLE_FILE = 'model.safetensors';
export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';

export interface SafetensorsIndex {
  /** The index's `metadata` object as written (transformers puts `total_size` there), or null. */
  metadata: Record<string, unknown> | null;
  /** tensor name → shard file name, in the index's order. */
  weightMap: Map<string, string>;
  /** The distinct shard file names, in order of first appearance. */
  shards: string[];
}

export interface HfWeights {
  tensors: Map<string, SafetensorsTensor>;
  /** The opened safetensors files (one, or one per shard). */
  files: SafetensorsFile[];
  /** Closes every opened file; the lazy tensors are unusable afterwards. */
  close(): void;
}

/** Reads and validates the folder's `model.safetensors.index.json`; null when the folder has no index. */
export function readSafetensorsIndexIn(folder: SourceFolder): SafetensorsIndex | null {
  if (!folder.has(SAFETENSORS_INDEX_FILE)) return null;
  const path = folder.pathOf(SAFETENSORS_INDEX_FILE);
  const bad = (what: string, details: Record<string, unknown> = {}) =>
    new CorruptInputError('E_SAFETENSORS_INDEX', `${path}: ${what}`, { file: path, ...details });
  const text = decodeUtf8(folder.readAll(SAFETENSORS_INDEX_FILE, MAX_SAFETENSORS_HEADER_BYTES));
  if (text === null) throw bad('not a valid UTF-8 JSON file (not UTF-8)');
  // an index is {"metadata": {...}, "weight_map": {...}}: depth 2, one entry per tensor
  const parsed = parseBoundedJson(text, { maxChars: MAX_SAFETENSORS_HEADER_BYTES, maxDepth: 3, maxEntries: MAX_SAFETENSORS_ENTRIES }, { duplicates: 'refuse' });
  if (!parsed.ok) {
    if (parsed.problem === 'duplicate') throw bad(`key "${parsed.key}" appears twice`, { key: parsed.key });
    throw bad(`not a valid UTF-8 JSON file (${parsed.reason})`);
  }
  const value = parsed.value;
  if (!isPlainObject(value) || !isPlainObject(value['weight_map'])) {
    throw bad('expected an object with a "weight_map" object of tensor name → shard file');
  }
  const metadata = value['metadata'];
  if (metadata !== undefined && metadata !== null && !isPlainObject(metadata)) throw bad('"metadata" must be an object');
  const weightMap = new Map<string, string>();
  for (const [name, file] of Object.entries(value['weight_map'])) {
    if (typeof file !== 'string' || !isPlainFileName(file)) {
      throw bad(`weight_map["${name}"] = ${JSON.stringify(file)} is not a file name inside the folder`, { tensor: name });
    }
    weightMap.set(name, file);
  }
  return { metadata: (metadata as Record<string, unknown> | undefined) ?? null, weightMap, shards: [...new Set(weightMap.values())] };
}

/** The weights of a HF folder, lazily backed by their files, with a close(). `model.safetensors` wins over an index. */
export function openHfWeightFilesIn(folder: SourceFolder): HfWeights {
  const dir = folder.name;
  if (folder.has(SAFETENSORS_SINGLE_FILE)) {
    const file = parseSafetensors(folder.open(SAFETENSORS_SINGLE_FILE), { owned: true });
    return { tensors: file.tensors, files: [file], close: () => file.close() };
  }
  const index = readSafetensorsIndexIn(folder);
  if (!index) {
    throw new FileSystemError('E_HF_WEIGHTS_MISSING', `${dir}: neither ${SAFETENSORS_SINGLE_FILE} nor ${SAFETENSORS_INDEX_FILE} exists; is this a Hugging Face model folder saved with safetensors?`, { dir });
  }
  const indexPath = folder.pathOf(SAFETENSORS_INDEX_FILE);
  const files: SafetensorsFile[] = [];
  const closeAll = () => files.forEach((f) => f.close());
  try {
    const tensors = new Map<string, SafetensorsTensor>();
    for (const shard of index.shards) {
      const path = folder.pathOf(shard);
      if (!folder.has(shard)) {
        throw new FileSystemError('E_SAFETENSORS_SHARD_MISSING', `${indexPath} lists shard ${shard}, which is not in ${dir}`, { dir, shard });
      }
      const file = parseSafetensors(folder.open(shard), { owned: true });
      files.push(file);
      for (const [name, tensor] of file.tensors) {
        const listed = index.weightMap.get(name);
        if (tensors.has(name)) {
          throw new CorruptInputError('E_SAFETENSORS_DUPLICATE_TENSOR', `${path}: tensor "${name}" also appears in another shard`, { tensor: name, shard });
        }
        if (listed !== shard) {
          const where = listed === undefined ? 'does not list it' : `says it is in ${listed}`;
          throw new CorruptInputError('E_SAFETENSORS_INDEX_MISMATCH', `${path}: holds tensor "${name}" but ${indexPath} ${where}`, { tensor: name, shard, listed });
        }
        tensors.set(name, tensor);
      }
    }
    for (const [name, shard] of index.weightMap) {
      if (!tensors.has(name)) {
        throw new CorruptInputError('E_SAFETENSORS_INDEX_MISMATCH', `${indexPath} says tensor "${name}" is in ${shard}, but that shard does not hold it`, { tensor: name, shard });
      }
    }
    return { tensors, files, close: closeAll };
  } catch (error) {
    closeAll();
    throw error;
  }
}

/** A bare name: no separators, not "." or "..", so an index cannot point outside its folder. */
function isPlainFileName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}
