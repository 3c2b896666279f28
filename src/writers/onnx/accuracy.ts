/** How far each written variant is from the fp32 graph on one deterministic input, for the conversion report. */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { OnnxVariant } from './hubert.js';

export interface VariantAccuracy {
  variant: OnnxVariant;
  /** the output compared (the first graph output: last_hidden_state or logits) */
  output: string;
  maxAbs: number;
  /** maxAbs / max |fp32| */
  maxRel: number;
  cosine: number;
}

/** 1 s of a deterministic speech-like signal (two tones plus LCG noise), zero mean, unit variance. */
export function deterministicInput(samples = 16000): Float32Array {
  const x = new Float32Array(samples);
  let seed = 12345;
  for (let i = 0; i < samples; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    x[i] = Math.sin((2 * Math.PI * 220 * i) / 16000) + 0.5 * Math.sin((2 * Math.PI * 1375 * i) / 16000) + 0.3 * (seed / 2147483648 - 0.5);
  }
  let mean = 0;
  for (const v of x) mean += v / samples;
  let variance = 0;
  for (const v of x) variance += (v - mean) ** 2 / samples;
  for (let i = 0; i < samples; i++) x[i] = (x[i]! - mean) / Math.sqrt(variance + 1e-5);
  return x;
}

export function compare(a: Float32Array, ref: Float32Array): { maxAbs: number; maxRel: number; cosine: number } {
  let maxAbs = 0;
  let maxRef = 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < ref.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i]! - ref[i]!));
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
    dot += a[i]! * ref[i]!;
    na += a[i]! * a[i]!;
    nb += ref[i]! * ref[i]!;
  }
  return { maxAbs, maxRel: maxRef > 0 ? maxAbs / maxRef : maxAbs, cosine: na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : na === nb ? 1 : 0 };
}

async function runFirstOutput(path: string, input: Float32Array): Promise<[string, Float32Array]> {
  const session = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'all', intraOpNumThreads: 2 });
  try {
    const feeds: Record<string, ort.Tensor> = { input_values: new ort.Tensor('float32', input, [1, input.length]) };
    if (session.inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(input.length).fill(1n), [1, input.length]);
    const name = session.outputNames[0]!;
    const out = await session.run(feeds, [name]);
    return [name, out[name]!.data as Float32Array];
  } finally {
    await session.release();
  }
}

/** Accuracy of every variant in `files` against the fp32 one (which must be among them). */
export async function measureVariantAccuracy(outDir: string, files: readonly { variant: OnnxVariant; file: string }[], input: Float32Array = deterministicInput()): Promise<VariantAccuracy[]> {
  const fp32 = files.find((f) => f.variant === 'fp32');
  if (!fp32) throw new Error('measureVariantAccuracy needs the fp32 variant as the reference');
  const [output, ref] = await runFirstOutput(join(outDir, fp32.file), input);
  const results: VariantAccuracy[] = [];
  for (const f of files) {
    const [, y] = f === fp32 ? [output, ref] : await runFirstOutput(join(outDir, f.file), input);
    results.push({ variant: f.variant, output, ...compare(y, ref) });
  }
  return results;
}
