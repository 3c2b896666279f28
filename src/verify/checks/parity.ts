/**
 * Check 3: every ONNX variant in `<dir>/onnx/` agrees with the float64 reference computed from the folder's
 * safetensors, on the built-in inputs (and --audio files). Graphs that declare `attention_mask` get the real mask and
 * so does the reference; others see the zero-padded batch unmasked, as transformers runs group-norm models.
 */
import { compareTensors, type Tolerance } from '../compare.js';
import type { VerifyInput } from '../inputs.js';
import { HubertConvertError } from '../../errors.js';
import { type GraphOutput, type GraphRequest, type OnnxGraph, VARIANT_FILES, canonicalOutputName, openVariant, presentVariants } from '../onnx-runner.js';
import { DEFAULT_MEMORY_BUDGET_MIB } from '../piecewise.js';
import { type VerifyProgressSink, stage } from '../progress.js';
import type { ReferenceCache, ReferenceRequest } from '../reference-cache.js';
import { compareOutputsGraphRun, loadOutputsContext } from './outputs-parity.js';
import { type CheckItem, type CheckResult, type Variant, checkResult, skippedCheck } from '../report.js';

export type GraphRunListener = (variant: Variant, input: string, outputs: Record<string, GraphOutput>) => void;

/** The graph, with every run's outputs also handed to `listener`. */
function listened(graph: OnnxGraph, listener: (outputs: Record<string, GraphOutput>) => void): OnnxGraph {
  return {
    ...graph,
    run: async (...args) => {
      const outputs = await graph.run(...args);
      listener(outputs);
      return outputs;
    },
  };
}

/**
 * A piecewise graph with every input already run through it (piece by piece, so that each piece is loaded once):
 * run() hands back those outputs, or the failure, for the same input arrays.
 */
async function runBeforehand(graph: OnnxGraph, inputs: readonly VerifyInput[]): Promise<OnnxGraph> {
  const requests: GraphRequest[] = inputs.map((input) => ({ name: input.name, inputValues: input.inputValues, batch: input.batch, length: input.length, mask: graph.takesMask ? input.attentionMask : null }));
  const results = await graph.runAll!(requests);
  return {
    ...graph,
    run: async (inputValues, batch, length, mask) => {
      const r = requests.findIndex((q) => q.inputValues === inputValues && q.batch === batch && q.length === length && q.mask === mask);
      if (r < 0) return graph.run(inputValues, batch, length, mask);
      const result = results[r]!;
      if (result instanceof Error) throw result;
      return result;
    },
  };
}

/** `{ pieces: N }` on every item of a piecewise graph. */
function markPieces(items: CheckItem[], graph: OnnxGraph): CheckItem[] {
  if (!graph.pieces) return items;
  const { pieces, estimatedBytes, largestPieceBytes } = graph.pieces;
  return items.map((item) => ({ ...item, details: { ...item.details, pieces, estimatedSessionBytes: estimatedBytes, largestPieceBytes } }));
}

function readFailure(variant: Variant, error: unknown): CheckItem {
  const e = error as Error;
  const code = error instanceof HubertConvertError ? error.code : undefined;
  return { subject: `${variant}`, passed: false, message: `${code ? `${code}: ` : ''}${VARIANT_FILES[variant]} cannot be read: ${e.message}`, ...(code ? { details: { code } } : {}) };
}

export function mainOutputOf(architecture: string): string {
  return architecture === 'HubertModel' ? 'last_hidden_state' : 'logits';
}

/** Compares one graph run with the reference, output by output. */
export async function compareGraphRun(
  graph: OnnxGraph,
  input: VerifyInput,
  mask: BigInt64Array | null,
  expected: (wantHidden: boolean) => Record<string, { data: ArrayLike<number>; shape: number[] }>,
  tolerance: Tolerance,
  subjectPrefix: string,
  expectedLabel = 'reference',
  progress?: VerifyProgressSink,
): Promise<CheckItem[]> {
  const items: CheckItem[] = [];
  let outputs: Awaited<ReturnType<OnnxGraph['run']>>;
  try {
    outputs = await stage(progress, `${graph.variant}: run ${graph.file} on ${input.name}`, () => graph.run(input.inputValues, input.batch, input.length, graph.takesMask ? mask : null));
  } catch (error) {
    return [{ subject: `${subjectPrefix}`, passed: false, message: `onnxruntime could not run ${graph.file} on ${input.name}: ${(error as Error).message}` }];
  }
  const wantHidden = Object.keys(outputs).some((n) => n.startsWith('hidden_states.'));
  const reference = expected(wantHidden);
  for (const [name, actual] of Object.entries(outputs)) {
    const subject = `${subjectPrefix} ${name}`;
    const ref = reference[name];
    if (!ref) {
      items.push({ subject, passed: false, message: `${graph.file} has an output "${name}" with no counterpart in the reference (${Object.keys(reference).join(', ')})` });
      continue;
    }
    if (actual.shape.length !== ref.shape.length || actual.shape.some((d, i) => d !== ref.shape[i])) {
      items.push({ subject, passed: false, message: `${graph.file} output ${name} has shape [${actual.shape.join(', ')}]; the reference has [${ref.shape.join(', ')}] (a graph of a different model?)` });
      continue;
    }
    const comparison = compareTensors(name, actual.data, ref.data, ref.shape, tolerance, ['onnx', expectedLabel]);
    items.push({
      subject,
      passed: comparison.passed,
      message: comparison.passed ? 'within tolerance' : comparison.failures.join('; '),
      comparison,
    });
  }
  return items;
}

export async function checkParity(
  dir: string,
  architecture: string,
  inputs: VerifyInput[],
  tolerances: Record<Variant, Tolerance>,
  cache: ReferenceCache,
  progress?: VerifyProgressSink,
  /** hears every graph run's outputs (convert --verify takes the report's accuracy figures from them) */
  onRun?: GraphRunListener,
  /** graphs whose session would need more run in pieces (piecewise.ts); 0: every graph whole */
  memoryBudgetBytes: number = DEFAULT_MEMORY_BUDGET_MIB << 20,
): Promise<CheckResult> {
  const variants = presentVariants(dir);
  if (variants.length === 0) return skippedCheck('parity', `no ONNX graphs in ${dir}/onnx/ (${Object.values(VARIANT_FILES).map((f) => f.slice('onnx/'.length)).join(', ')})`);
  const items: CheckItem[] = [];
  const main = mainOutputOf(architecture);
  const requestFor = (graph: OnnxGraph, input: VerifyInput, wantHidden: boolean): ReferenceRequest => ({
    inputValues: input.inputValues,
    batch: input.batch,
    length: input.length,
    mask: graph.takesMask ? input.attentionMask : null,
    hiddenStates: wantHidden,
  });
  let prepared = false;
  const piecewise: string[] = [];
  for (const variant of variants) {
    let graph: OnnxGraph;
    try {
      graph = await openVariant(dir, variant, memoryBudgetBytes, progress, (load) => stage(progress, `${variant}: load ${VARIANT_FILES[variant]} into onnxruntime`, load));
    } catch (error) {
      // a file that asks for data outside the folder stops verify (exit 3), as unsafe checkpoints do
      if (error instanceof HubertConvertError && error.kind === 'unsafe') throw error;
      items.push(error instanceof HubertConvertError ? readFailure(variant, error) : { subject: `${variant}`, passed: false, message: `onnxruntime cannot load ${VARIANT_FILES[variant]}: ${(error as Error).message}` });
      continue;
    }
    const variantItems: CheckItem[] = [];
    try {
      if (graph.runAll) {
        piecewise.push(`${variant} in ${graph.pieces!.pieces} pieces`);
        try {
          graph = await runBeforehand(graph, inputs);
        } catch (error) {
          items.push({ subject: `${variant}`, passed: false, message: `onnxruntime cannot load ${VARIANT_FILES[variant]} ${(error as Error).message}`, details: { pieces: graph.pieces!.pieces } });
          continue;
        }
      }
      await checkVariant(graph, variant, variantItems);
    } finally {
      items.push(...markPieces(variantItems, graph));
      await graph.release();
    }
  }
  async function checkVariant(graph: OnnxGraph, variant: Variant, items: CheckItem[]): Promise<void> {
    // a graph with an outputs record (layer cut, head, units, padding, profile) is checked against that record
    const outputs = loadOutputsContext(dir, graph.file, cache.model);
    if (outputs && 'problem' in outputs) {
      items.push({ subject: `${variant} outputs`, passed: false, message: outputs.problem });
      return;
    }
    if (outputs) {
      for (const input of inputs) items.push(...(await compareOutputsGraphRun(graph, input, cache.model, outputs, tolerances[variant], `${variant} ${input.name}`)));
      return;
    }
    const unknownInputs = graph.inputNames.filter((n) => n !== 'input_values' && n !== 'attention_mask');
    if (!graph.inputNames.includes('input_values') || unknownInputs.length) {
      items.push({ subject: `${variant} inputs`, passed: false, message: `${graph.file} takes [${graph.inputNames.join(', ')}]; expected input_values (and optionally attention_mask)` });
      return;
    }
    const outputNames = graph.outputNames.map(canonicalOutputName);
    if (!outputNames.includes(main)) {
      items.push({ subject: `${variant} outputs`, passed: false, message: `${graph.file} outputs [${graph.outputNames.join(', ')}] but a ${architecture} graph must output ${main}` });
    }
    if (!prepared) {
      // the reference of every input at once, before the first run: one pass, each weight decoded once; the other
      // variants (same inputs, same mask use) find it cached
      const wantHidden = outputNames.some((n) => n.startsWith('hidden_states.'));
      cache.prepare(inputs.map((input) => requestFor(graph, input, wantHidden)), inputs.map((i) => i.name).join(', '));
      prepared = true;
    }
    for (const input of inputs) {
      const mask = graph.takesMask ? input.attentionMask : null;
      const reference = (wantHidden: boolean) => cache.get(requestFor(graph, input, wantHidden));
      const heard = onRun ? listened(graph, (outputs) => onRun(variant, input.name, outputs)) : graph;
      // a piecewise graph has run already (its pieces reported their runs)
      items.push(...(await compareGraphRun(heard, input, mask, reference, tolerances[variant], `${variant} ${input.name}`, 'reference', graph.pieces ? undefined : progress)));
    }
  }
  const compared = items.filter((i) => i.comparison).length;
  const failed = items.filter((i) => !i.passed).length;
  return checkResult(
    'parity',
    items,
    `${variants.join(', ')} on ${inputs.map((i) => i.name).join(', ')}: ${compared} output comparison(s), ${failed === 0 ? 'all within tolerance' : `${failed} failed`}${piecewise.length ? ` (run piecewise to stay within the memory budget: ${piecewise.join(', ')})` : ''}`,
  );
}
