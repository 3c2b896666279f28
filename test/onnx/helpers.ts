/** Shared helpers for the ONNX tests: fixture models and goldens, running graphs in onnxruntime-node. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { HfArchitecture, HfModel, HubertConfig } from '../../src/model.js';
import { readSafetensors } from '../../src/readers/safetensors.js';
import { toFloat32, type TensorData } from '../../src/tensor.js';

export const FIXTURES = new URL('../../fixtures/', import.meta.url).pathname;

/** Names of fixtures that have both an HF folder and a golden file. */
export function convertibleFixtures(root = FIXTURES): string[] {
  const hf = join(root, 'hf');
  if (!existsSync(hf)) return [];
  return readdirSync(hf)
    .filter((n) => existsSync(join(hf, n, 'model.safetensors')) && existsSync(join(root, 'golden', `${n}.safetensors`)))
    .sort();
}

/** An HfModel from an HF folder (config.json + model.safetensors). */
export function loadHfModel(dir: string): HfModel {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as HubertConfig;
  const file = readSafetensors(join(dir, 'model.safetensors'));
  const tensors = new Map<string, TensorData>(file.tensors);
  return {
    architecture: (config.architectures?.[0] ?? 'HubertModel') as HfArchitecture,
    config,
    preprocessor: {
      feature_extractor_type: 'Wav2Vec2FeatureExtractor', feature_size: 1, sampling_rate: 16000, padding_value: 0,
      padding_side: 'right', do_normalize: true, return_attention_mask: config.feat_extract_norm === 'layer',
    },
    tensors,
  };
}

export interface GoldenTensor { shape: readonly number[]; data: Float32Array | BigInt64Array }

export function loadGolden(path: string): Map<string, GoldenTensor> {
  const file = readSafetensors(path);
  const out = new Map<string, GoldenTensor>();
  for (const [name, t] of file.tensors) {
    out.set(name, { shape: t.shape, data: t.dtype === 'I64' ? new BigInt64Array(t.bytes().slice().buffer) : toFloat32(t) });
  }
  file.close();
  return out;
}

export async function runGraph(path: string, feeds: Record<string, GoldenTensor>, options: ort.InferenceSession.SessionOptions = {}): Promise<Map<string, { dims: readonly number[]; data: Float32Array }>> {
  const session = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'all', intraOpNumThreads: 1, ...options });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const name of session.inputNames) {
      const t = feeds[name];
      if (!t) throw new Error(`no feed for ${name}`);
      inputs[name] = new ort.Tensor(t.data instanceof BigInt64Array ? 'int64' : 'float32', t.data, [...t.shape]);
    }
    const result = await session.run(inputs);
    const out = new Map<string, { dims: readonly number[]; data: Float32Array }>();
    for (const name of session.outputNames) out.set(name, { dims: result[name]!.dims, data: result[name]!.data as Float32Array });
    return out;
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(m) ? Infinity : m;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}
