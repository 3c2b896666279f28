/**
 * How far each ONNX variant in a folder is from the fp32 graph on one deterministic input, for the conversion report
 * (`onnx[].accuracy`). Verification proper compares every variant with the float64 reference; this is the quick
 * figure a user reads right after converting.
 *
 * When fp32 is not among the variants, an fp32 graph is built for the measurement into a scratch folder inside `dir`
 * (the unpublished temporary output folder, so it needs no other disk) and removed afterwards: it is never
 * published. Graphs are opened one at a time, big ones in pieces (`memoryBudgetMiB`), so memory peaks at one session
 * or piece whatever the number of variants.
 *
 * The input is verify's built-in `single` input (1 s, normalised as the folder's feature extractor does), so that
 * `convert --verify` takes these figures from verify's own runs (`accuracyFromRuns`) instead of opening every graph a
 * second time: on x-large that second pass cost 15–20 s and left onnxruntime's freed heap (≈1.9 GB after the fp16
 * session) under the fp32 graph's mapped weights in verify.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { HfModel, OnnxVariant } from '../model.js';
import { compareTensors } from './compare.js';
import { builtInInputs, speechLikeSignal } from './inputs.js';
import { budgetBytes, type GraphOutput, openVariant } from './onnx-runner.js';
import { DEFAULT_MEMORY_BUDGET_MIB } from './piecewise.js';

export interface VariantAccuracy {
  variant: OnnxVariant;
  /** the output compared: the graph's first (last_hidden_state or logits) */
  output: string;
  /** what the variant was compared with */
  reference: typeof PUBLISHED_FP32 | typeof SCRATCH_FP32;
  maxAbs: number;
  /** max elementwise relative error (see compare.ts for the floor that keeps it meaningful) */
  maxRel: number;
  /** ‖variant − fp32‖₂ / ‖fp32‖₂ */
  relativeL2: number;
  cosine: number;
}

export const PUBLISHED_FP32 = 'onnx/model.onnx';
export const SCRATCH_FP32 = 'fp32 graph built for this measurement (not published)';

const SAMPLES = 16000;

async function firstOutput(dir: string, variant: OnnxVariant, input: Float32Array, options: VariantAccuracyOptions): Promise<[string, GraphOutput]> {
  // big graphs in pieces, as verify runs them: a plain conversion of x-large must not hold a whole fp16 session
  const graph = await openVariant(dir, variant, budgetBytes(options.memoryBudgetMiB ?? DEFAULT_MEMORY_BUDGET_MIB));
  try {
    return firstFloat(await graph.run(input, 1, input.length, null));
  } finally {
    await graph.release();
  }
}

export interface VariantAccuracyOptions {
  /** the model the graphs were built from: needed when fp32 is not among `variants` (its graph is built to compare with) */
  model?: HfModel;
  /** MiB a session may take; bigger graphs run in pieces (src/verify/piecewise.ts). Default 1024; 0 or 'whole': whole */
  memoryBudgetMiB?: number | 'whole';
}

/** The fp32 graph's output on `input`: the folder's own, or one built for the purpose and deleted again. */
async function fp32Output(dir: string, variants: readonly OnnxVariant[], input: Float32Array, options: VariantAccuracyOptions): Promise<[string, GraphOutput, VariantAccuracy['reference']]> {
  if (variants.includes('fp32')) return [...(await firstOutput(dir, 'fp32', input, options)), PUBLISHED_FP32];
  if (!options.model) {
    throw new UsageError('E_ACCURACY_REFERENCE', 'measuring ONNX variant accuracy without the fp32 variant needs the model to build an fp32 graph from (pass options.model)');
  }
  const scratch = mkdtempSync(join(dir, '.fp32-reference-'));
  try {
    const { buildOnnx } = await import('../writers/onnx/index.js');
    await buildOnnx(options.model, scratch, { variants: ['fp32'] }); // only the first output is compared
    return [...(await firstOutput(scratch, 'fp32', input, options)), SCRATCH_FP32];
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The input every figure is measured on: verify's `single` input for the model's feature extractor. */
export function accuracyInput(model?: HfModel): Float32Array {
  return model ? builtInInputs(model.preprocessor).find((i) => i.name === ACCURACY_INPUT)!.inputValues : speechLikeSignal(SAMPLES);
}

/** The name of verify's input the figures are measured on. */
export const ACCURACY_INPUT = 'single';

function accuracyOf(variant: OnnxVariant, output: string, actual: GraphOutput, reference: GraphOutput, against: VariantAccuracy['reference']): VariantAccuracy {
  const c = compareTensors(output, actual.data, reference.data, reference.shape, {});
  return { variant, output, reference: against, maxAbs: c.maxAbs, maxRel: c.maxRel, relativeL2: c.relativeL2, cosine: c.cosine };
}

/** The first float output of a run (a k-means graph puts its int64 units first). */
function firstFloat(outputs: Record<string, GraphOutput>): [string, GraphOutput] {
  const name = Object.keys(outputs).find((n) => !outputs[n]!.integer) ?? Object.keys(outputs)[0]!;
  return [name, outputs[name]!];
}

/** Accuracy of every variant against fp32 (the folder's, or a scratch one when fp32 was not requested). */
export async function measureVariantAccuracy(dir: string, variants: readonly OnnxVariant[], options: VariantAccuracyOptions = {}): Promise<VariantAccuracy[]> {
  const input = accuracyInput(options.model);
  const [output, reference, against] = await fp32Output(dir, variants, input, options);
  const results: VariantAccuracy[] = [];
  for (const variant of variants) {
    const actual = variant === 'fp32' ? reference : (await firstOutput(dir, variant, input, options))[1];
    results.push(accuracyOf(variant, output, actual, reference, against));
  }
  return results;
}

/**
 * The same figures from runs already made on the accuracy input (verify's parity runs, by variant); null when the
 * published fp32 graph or a variant's run is missing (then measureVariantAccuracy opens the graphs itself).
 */
export function accuracyFromRuns(variants: readonly OnnxVariant[], runs: ReadonlyMap<OnnxVariant, Record<string, GraphOutput>>): VariantAccuracy[] | null {
  const fp32 = runs.get('fp32');
  if (!fp32) return null;
  const [output, reference] = firstFloat(fp32);
  if (variants.some((v) => !runs.get(v)?.[output])) return null;
  return variants.map((variant) => accuracyOf(variant, output, runs.get(variant)![output]!, reference, PUBLISHED_FP32));
}
