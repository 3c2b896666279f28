/** The transformers goldens (fixtures/golden) and the HF fixture folders they belong to, for every numeric test. */
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { HfModel } from '../../src/model.js';
import { readHfFolder } from '../../src/readers/hf-folder.js';
import { readSafetensors } from '../../src/readers/disk-safetensors.js';
import { MemoryTensor, type TensorData, toFloat32 } from '../../src/tensor.js';
import { writeSafetensors } from '../../src/writers/disk-safetensors.js';
import { fixture } from './fixtures.js';

export const GOLDEN_DIR = fixture('golden');
/** The inputs every golden was computed from (`input.single`, `input.batch`, `input.batch_mask`). */
export const GOLDEN_INPUTS = 'inputs.safetensors';

export interface GoldenTensor {
  shape: readonly number[];
  data: Float32Array | BigInt64Array;
}

export function hfDir(name: string): string {
  return fixture(`hf/${name}`);
}

/** Fixture names that have both an HF folder and a golden file. */
export function goldenNames(): string[] {
  return readdirSync(GOLDEN_DIR)
    .filter((f) => f.endsWith('.safetensors') && f !== GOLDEN_INPUTS)
    .map((f) => f.slice(0, -'.safetensors'.length))
    .filter((n) => existsSync(join(hfDir(n), 'config.json')))
    .sort();
}

function readTensors(path: string): Map<string, TensorData> {
  const file = readSafetensors(path);
  const out = new Map<string, TensorData>([...file.tensors].map(([n, t]) => [n, new MemoryTensor(t.dtype, t.shape, t.bytes().slice())]));
  file.close();
  return out;
}

/**
 * A golden's tensors, by fixture name or path, with the shared inputs merged in when the file has none (the goldens
 * under fixtures/golden keep their inputs once, in inputs.safetensors).
 */
export function goldenTensors(nameOrPath: string): Map<string, TensorData> {
  const path = nameOrPath.endsWith('.safetensors') ? nameOrPath : join(GOLDEN_DIR, `${nameOrPath}.safetensors`);
  const own = readTensors(path);
  const shared = join(dirname(path), GOLDEN_INPUTS);
  if (own.has('input.single') || basename(path) === GOLDEN_INPUTS || !existsSync(shared)) return own;
  return new Map([...readTensors(shared), ...own]);
}

export function loadGolden(nameOrPath: string): Map<string, GoldenTensor> {
  return new Map(
    [...goldenTensors(nameOrPath)].map(([n, t]) => [n, { shape: t.shape, data: t.dtype === 'I64' ? new BigInt64Array(t.bytes().slice().buffer) : toFloat32(t) }]),
  );
}

/** The golden as one self-contained safetensors file (inputs included), e.g. for `verify --expected`. */
export function writeGoldenWithInputs(name: string, path: string): string {
  writeSafetensors(path, goldenTensors(name));
  return path;
}

/** A fixture folder as the HfModel the converter would produce (names normalised by readHfFolder). */
export function loadHfModel(dir: string): HfModel {
  return readHfFolder(dir).model;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(m) ? Infinity : m;
}
