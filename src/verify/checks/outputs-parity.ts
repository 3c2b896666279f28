/**
 * Parity of graphs that carry an outputs record (src/outputs.ts, `hubert_convert.outputs` in their metadata): every
 * output against the float64 reference of that record (reference/outputs.ts), the head and centres taken from the
 * folder's own files. Float outputs use the variant's tolerance. Units must agree exactly, except at frames where the
 * reference itself is that close to a tie: a frame may differ only if the reference's distance gap between the two
 * centres is within what the graph's measured feature difference (and float32 rounding) can flip. The run-length
 * outputs must encode the graph's own units exactly.
 */
import { join } from 'node:path';
import type { HfModel } from '../../model.js';
import { KMEANS_TENSOR, OUTPUTS_METADATA_KEY, type OutputsRecord, featureOutputName, parseOutputsRecord } from '../../outputs.js';
import { readSafetensors } from '../../readers/disk-safetensors.js';
import { readProjectionFile } from '../../readers/projection-head.js';
import { pathExists } from '../../node-files.js';
import { toFloat64 } from '../../tensor.js';
import { compareTensors, type Tolerance } from '../compare.js';
import { readOnnxMetadata } from '../graph-metadata.js';
import type { VerifyInput } from '../inputs.js';
import type { GraphOutput, OnnxGraph } from '../onnx-runner.js';
import { type OutputsReference, type ReferenceCenters, type ReferenceHead, referenceOutputs, runLengths } from '../reference/outputs.js';
import type { CheckItem } from '../report.js';

export interface OutputsContext {
  record: OutputsRecord;
  head: ReferenceHead | null;
  centers: ReferenceCenters | null;
  /** reference results by input name */
  cache: Map<string, OutputsReference>;
}

/** The graph's outputs record and the folder files it names; null for a plain graph; a problem for a broken one. */
export function loadOutputsContext(dir: string, graphFile: string, model: HfModel): OutputsContext | { problem: string } | null {
  const json = readOnnxMetadata(join(dir, graphFile)).get(OUTPUTS_METADATA_KEY);
  if (json === undefined) return null;
  const parsed = parseOutputsRecord(json, model.config.num_hidden_layers);
  if ('problem' in parsed) return { problem: `${graphFile}: ${parsed.problem}` };
  const record = parsed.record;
  let head: ReferenceHead | null = null;
  if (record.projection) {
    head = readProjectionFile(dir, record.projection.name as 'final_proj' | 'proj');
    if (!head) return { problem: `${graphFile} applies ${record.projection.name}, but the folder has no ${record.projection.file} to check it against` };
    if (head.weight.shape[1] !== model.config.hidden_size) return { problem: `${record.projection.file} holds a head of width [${head.weight.shape.join(', ')}], not [out, ${model.config.hidden_size}]` };
  }
  let centers: ReferenceCenters | null = null;
  if (record.kmeans) {
    const path = join(dir, record.kmeans.file);
    if (!pathExists(path)) return { problem: `${graphFile} outputs k-means units, but the folder has no ${record.kmeans.file} to check them against` };
    const file = readSafetensors(path);
    try {
      const t = file.tensors.get(KMEANS_TENSOR);
      if (!t || t.shape.length !== 2 || t.shape[1] !== model.config.hidden_size) {
        return { problem: `${record.kmeans.file} must hold ${KMEANS_TENSOR} [clusters, ${model.config.hidden_size}]` };
      }
      centers = { clusters: t.shape[0]!, dim: t.shape[1]!, data: toFloat64(t) };
    } finally {
      file.close();
    }
  }
  return { record, head, centers, cache: new Map() };
}

const ROUNDING = 1e-6;

/** Units of the graph against the reference: exact, except frames the measured feature difference can flip. */
function compareUnits(actual: GraphOutput, graphFeatures: GraphOutput | undefined, reference: OutputsReference, centers: ReferenceCenters, subject: string): CheckItem {
  const ref = reference.units!;
  const [B, T] = ref.shape;
  const D = centers.dim;
  const C = centers.data;
  if (actual.shape.join(',') !== `${B},${T}`) return { subject, passed: false, message: `units have shape [${actual.shape.join(', ')}]; the reference has [${B}, ${T}]` };
  const norm = (v: ArrayLike<number>, at: number) => {
    let s = 0;
    for (let i = 0; i < D; i++) s += v[at + i]! ** 2;
    return Math.sqrt(s);
  };
  let agree = 0;
  let explained = 0;
  let referenceTies = 0;
  let smallestMargin = Infinity;
  const unexplained: string[] = [];
  const explainedMargins: number[] = [];
  for (let f = 0; f < B * T; f++) {
    const b = ref.units[f]!;
    const scale = (norm(ref.features, f * D) + norm(C, b * D)) ** 2;
    smallestMargin = Math.min(smallestMargin, ref.margin[f]!);
    if (ref.margin[f]! <= ROUNDING * scale) referenceTies++;
    const a = actual.data[f]!;
    if (a === b) {
      agree++;
      continue;
    }
    if (!Number.isInteger(a) || a < 0 || a >= centers.clusters) {
      unexplained.push(`frame ${f % T} of row ${Math.floor(f / T)}: unit ${a} is not a centre index`);
      continue;
    }
    let dA = 0;
    let dB = 0;
    let gap2 = 0;
    let dx2 = 0;
    for (let i = 0; i < D; i++) {
      const x = ref.features[f * D + i]!;
      dA += (x - C[a * D + i]!) ** 2;
      dB += (x - C[b * D + i]!) ** 2;
      gap2 += (C[a * D + i]! - C[b * D + i]!) ** 2;
      if (graphFeatures) dx2 += (graphFeatures.data[f * D + i]! - x) ** 2;
    }
    const bound = 2 * Math.sqrt(dx2) * Math.sqrt(gap2) + ROUNDING * (norm(ref.features, f * D) + Math.max(norm(C, a * D), norm(C, b * D))) ** 2;
    if (graphFeatures && dA - dB <= bound) {
      explained++;
      explainedMargins.push(dA - dB);
    } else unexplained.push(`frame ${f % T} of row ${Math.floor(f / T)}: unit ${a}, the reference's ${b} is nearer by ${(dA - dB).toExponential(3)} (more than the feature difference can explain, ${bound.toExponential(3)})`);
  }
  const total = B * T;
  const margin = Number.isFinite(smallestMargin) ? smallestMargin.toExponential(3) : 'n/a (one centre)';
  const tieNote = referenceTies > 0 ? `; ${referenceTies} frame(s) are ties in the reference itself` : '';
  const details = { frames: total, agree, nearTies: explained, unexplained: unexplained.length, smallestReferenceMargin: Number.isFinite(smallestMargin) ? smallestMargin : null, referenceTies };
  if (unexplained.length > 0) {
    return { subject, passed: false, message: `${agree}/${total} frames agree; ${unexplained.length} differ beyond a near-tie: ${unexplained.slice(0, 3).join('; ')}${unexplained.length > 3 ? '; …' : ''}`, details };
  }
  const nearTies = explained > 0 ? `; ${explained} near-tie(s) within the feature difference (reference gaps ${explainedMargins.slice(0, 3).map((m) => m.toExponential(2)).join(', ')})` : '';
  return { subject, passed: true, message: `${agree}/${total} frames agree${nearTies}; smallest reference margin ${margin}${tieNote}`, details };
}

function exact(actual: GraphOutput, expected: Float64Array, subject: string, what: string): CheckItem {
  let differ = 0;
  for (let i = 0; i < expected.length; i++) if (actual.data[i] !== expected[i]) differ++;
  const passed = differ === 0 && actual.data.length === expected.length;
  return { subject, passed, message: passed ? `equals ${what}` : `${differ} of ${expected.length} entries differ from ${what}` };
}

/** One graph run on one input, output by output. */
export async function compareOutputsGraphRun(graph: OnnxGraph, input: VerifyInput, model: HfModel, context: OutputsContext, tolerance: Tolerance, subjectPrefix: string): Promise<CheckItem[]> {
  const { record } = context;
  const mask = graph.takesMask ? input.attentionMask : null;
  let outputs: Record<string, GraphOutput>;
  try {
    outputs = await graph.run(input.inputValues, input.batch, input.length, mask);
  } catch (error) {
    return [{ subject: subjectPrefix, passed: false, message: `onnxruntime could not run ${graph.file} on ${input.name}: ${(error as Error).message}` }];
  }
  const wantHidden = Object.keys(outputs).some((n) => n.startsWith('hidden_states.'));
  const key = `${input.name}|${mask ? 'mask' : 'nomask'}|${wantHidden}`;
  let reference = context.cache.get(key);
  if (!reference) {
    reference = referenceOutputs(model, record, { head: context.head, centers: context.centers }, { inputValues: input.inputValues, batch: input.batch, length: input.length, mask }, wantHidden);
    context.cache.set(key, reference);
  }
  const items: CheckItem[] = [];
  const expectedNames = [...record.outputs, ...Object.keys(reference.tensors).filter((n) => n.startsWith('hidden_states.') && wantHidden)];
  const extra = Object.keys(outputs).filter((n) => !expectedNames.includes(n));
  const missing = record.outputs.filter((n) => !(n in outputs));
  if (extra.length || missing.length) {
    items.push({ subject: `${subjectPrefix} outputs`, passed: false, message: `${graph.file} outputs [${Object.keys(outputs).join(', ')}]; its outputs record says [${record.outputs.join(', ')}]` });
  }
  for (const [name, actual] of Object.entries(outputs)) {
    const subject = `${subjectPrefix} ${name}`;
    if (name === 'units' && context.centers) {
      items.push(compareUnits(actual, outputs[featureOutputName(record.layer)], reference, context.centers, subject));
      continue;
    }
    if ((name === 'dedup_units' || name === 'unit_durations') && outputs.units) {
      const [B, T] = outputs.units.shape as [number, number];
      const rl = runLengths(outputs.units.data, B, T);
      items.push(exact(actual, name === 'dedup_units' ? rl.dedup : rl.durations, subject, `the run-length encoding of the graph's units`));
      continue;
    }
    const ref = reference.tensors[name];
    if (!ref) continue; // reported above
    if (actual.shape.join(',') !== ref.shape.join(',')) {
      items.push({ subject, passed: false, message: `${graph.file} output ${name} has shape [${actual.shape.join(', ')}]; the reference has [${ref.shape.join(', ')}]` });
      continue;
    }
    const comparison = compareTensors(name, actual.data, ref.data, ref.shape, tolerance, ['onnx', 'reference']);
    items.push({ subject, passed: comparison.passed, message: comparison.passed ? 'within tolerance' : comparison.failures.join('; '), comparison });
  }
  return items;
}
