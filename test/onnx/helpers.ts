/** Shared helpers for the ONNX tests: fixture models and goldens, running graphs in onnxruntime-node. */
import * as ort from 'onnxruntime-node';
import { type GoldenTensor, goldenNames } from '../helpers/golden.js';

export { FIXTURES } from '../helpers/fixtures.js';
export { type GoldenTensor, loadGolden, loadHfModel, maxAbsDiff } from '../helpers/golden.js';

/** Names of fixtures that have both an HF folder and a golden file. */
export const convertibleFixtures = (): string[] => goldenNames();

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

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}
