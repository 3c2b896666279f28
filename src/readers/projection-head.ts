/**
 * The projection head a HuBERT-family folder keeps beside its HubertModel weights (transformers has no place for it):
 * `<name>.safetensors` holding `<name>.weight` [out, hidden] and `<name>.bias` [out] (src/model.ts ProjectionHead),
 * written by conversions of ContentVec / hubert-soft and read back by folder sources and verify.
 */
import { join } from 'node:path';
import { CorruptInputError } from '../errors.js';
import type { ProjectionHead } from '../model.js';
import { pathExists } from '../node-files.js';
import { MemoryTensor } from '../tensor.js';
import { readSafetensors } from './disk-safetensors.js';

export const PROJECTION_NAMES = ['final_proj', 'proj'] as const;

/** The head file `<dir>/<name>.safetensors` of the given name, or null when there is none. */
export function readProjectionFile(dir: string, name: ProjectionHead['name']): ProjectionHead | null {
  const path = join(dir, `${name}.safetensors`);
  if (!pathExists(path)) return null;
  const file = readSafetensors(path);
  try {
    const weight = file.tensors.get(`${name}.weight`);
    const bias = file.tensors.get(`${name}.bias`);
    if (!weight || !bias || file.tensors.size !== 2) {
      throw new CorruptInputError('E_PROJECTION_FILE', `${path} must hold exactly ${name}.weight and ${name}.bias (it holds ${[...file.tensors.keys()].join(', ') || 'nothing'}); re-run the conversion`, { file: path });
    }
    const copy = (t: typeof weight) => new MemoryTensor(t.dtype, t.shape, t.bytes().slice());
    return { name, weight: copy(weight), bias: copy(bias) };
  } finally {
    file.close();
  }
}

/** The first head file present beside a folder's weights (final_proj, then proj), or undefined. */
export function readProjectionBeside(dir: string): ProjectionHead | undefined {
  for (const name of PROJECTION_NAMES) {
    const head = readProjectionFile(dir, name);
    if (head) return head;
  }
  return undefined;
}
