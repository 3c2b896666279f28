/**
 * How far each ONNX variant in a folder is from its fp32 graph on one deterministic input, for the conversion report
 * (`onnx[].accuracy`). Verification proper compares every variant with the float64 reference; this is the quick
 * figure a user reads right after converting.
 */
import type { OnnxVariant } from '../model.js';
import { compareTensors } from './compare.js';
import { speechLikeSignal } from './inputs.js';
import { type GraphOutput, openGraph } from './onnx-runner.js';

export interface VariantAccuracy {
  variant: OnnxVariant;
  /** the output compared: the graph's first (last_hidden_state or logits) */
  output: string;
  maxAbs: number;
  /** max elementwise relative error (see compare.ts for the floor that keeps it meaningful) */
  maxRel: number;
  /** ‖variant − fp32‖₂ / ‖fp32‖₂ */
  relativeL2: number;
  cosine: number;
}

const SAMPLES = 16000;

async function firstOutput(dir: string, variant: OnnxVariant, input: Float32Array): Promise<[string, GraphOutput]> {
  const graph = await openGraph(dir, variant);
  try {
    const outputs = await graph.run(input, 1, input.length, null);
    // the first float output (a k-means graph puts its int64 units first)
    const name = Object.keys(outputs).find((n) => !outputs[n]!.integer) ?? Object.keys(outputs)[0]!;
    return [name, outputs[name]!];
  } finally {
    await graph.release();
  }
}

/** Accuracy of every variant against fp32 (which must be among them). */
export async function measureVariantAccuracy(dir: string, variants: readonly OnnxVariant[]): Promise<VariantAccuracy[]> {
  if (!variants.includes('fp32')) throw new Error('measureVariantAccuracy needs the fp32 variant as the reference');
  const input = speechLikeSignal(SAMPLES);
  const [output, reference] = await firstOutput(dir, 'fp32', input);
  const results: VariantAccuracy[] = [];
  for (const variant of variants) {
    const actual = variant === 'fp32' ? reference : (await firstOutput(dir, variant, input))[1];
    const c = compareTensors(output, actual.data, reference.data, reference.shape, {});
    results.push({ variant, output, maxAbs: c.maxAbs, maxRel: c.maxRel, relativeL2: c.relativeL2, cosine: c.cosine });
  }
  return results;
}
