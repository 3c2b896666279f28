/** Test helpers: fixture folders as HfModels, goldens as typed arrays. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { HfArchitecture, HfModel, HubertConfig, PreprocessorConfig } from '../../src/model.js';
import { openHfWeights } from '../../src/readers/safetensors-index.js';
import { readSafetensors } from '../../src/readers/safetensors.js';
import { toFloat32 } from '../../src/tensor.js';

export const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures');

export function hfDir(name: string): string {
  return join(FIXTURES, 'hf', name);
}

/** Fixture names that have both an HF folder and a golden file. */
export function goldenNames(): string[] {
  const dir = join(FIXTURES, 'golden');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .map((f) => f.slice(0, -'.safetensors'.length))
    .filter((n) => existsSync(join(hfDir(n), 'config.json')))
    .sort();
}

/** An HfModel from config.json + safetensors of a folder. */
export function loadHfModel(dir: string): HfModel {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as HubertConfig;
  const preprocessor = JSON.parse(readFileSync(join(dir, 'preprocessor_config.json'), 'utf8')) as PreprocessorConfig;
  return { architecture: config.architectures[0] as HfArchitecture, config, preprocessor, tensors: openHfWeights(dir) };
}

export interface Golden {
  floats(name: string): { data: Float32Array; shape: number[] };
  int64(name: string): BigInt64Array;
  names: string[];
}

export function loadGolden(name: string): Golden {
  const file = readSafetensors(join(FIXTURES, 'golden', `${name}.safetensors`));
  return {
    names: [...file.tensors.keys()],
    floats(key) {
      const t = file.tensors.get(key);
      if (!t) throw new Error(`golden ${name} has no ${key}`);
      return { data: toFloat32(t), shape: [...t.shape] };
    },
    int64(key) {
      const t = file.tensors.get(key);
      if (!t || t.dtype !== 'I64') throw new Error(`golden ${name} has no I64 ${key}`);
      return new BigInt64Array(t.bytes().buffer);
    },
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
