/**
 * Check 3: every ONNX variant in `<dir>/onnx/` agrees with the float64 reference computed from the folder's
 * safetensors, on the built-in inputs (and --audio files). Graphs that declare `attention_mask` get the real mask and
 * so does the reference; others see the zero-padded batch unmasked, as transformers runs group-norm models.
 */
import { compareTensors, type Tolerance } from '../compare.js';
import type { VerifyInput } from '../inputs.js';
import { type GraphOutput, type OnnxGraph, VARIANT_FILES, canonicalOutputName, openGraph, presentVariants } from '../onnx-runner.js';
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
  for (const variant of variants) {
    let graph: OnnxGraph;
    try {
      graph = await stage(progress, `${variant}: load ${VARIANT_FILES[variant]} into onnxruntime`, () => openGraph(dir, variant));
    } catch (error) {
      items.push({ subject: `${variant}`, passed: false, message: `onnxruntime cannot load ${VARIANT_FILES[variant]}: ${(error as Error).message}` });
      continue;
    }
    try {
      // a graph with an outputs record (layer cut, head, units, padding, profile) is checked against that record
      const outputs = loadOutputsContext(dir, graph.file, cache.model);
      if (outputs && 'problem' in outputs) {
        items.push({ subject: `${variant} outputs`, passed: false, message: outputs.problem });
        continue;
      }
      if (outputs) {
        for (const input of inputs) items.push(...(await compareOutputsGraphRun(graph, input, cache.model, outputs, tolerances[variant], `${variant} ${input.name}`)));
        continue;
      }
      const unknownInputs = graph.inputNames.filter((n) => n !== 'input_values' && n !== 'attention_mask');
      if (!graph.inputNames.includes('input_values') || unknownInputs.length) {
        items.push({ subject: `${variant} inputs`, passed: false, message: `${graph.file} takes [${graph.inputNames.join(', ')}]; expected input_values (and optionally attention_mask)` });
        continue;
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
        items.push(...(await compareGraphRun(heard, input, mask, reference, tolerances[variant], `${variant} ${input.name}`, 'reference', progress)));
      }
    } finally {
      await graph.release();
    }
  }
  const compared = items.filter((i) => i.comparison).length;
  const failed = items.filter((i) => !i.passed).length;
  return checkResult(
    'parity',
    items,
    `${variants.join(', ')} on ${inputs.map((i) => i.name).join(', ')}: ${compared} output comparison(s), ${failed === 0 ? 'all within tolerance' : `${failed} failed`}`,
  );
}
