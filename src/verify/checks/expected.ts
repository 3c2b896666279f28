/**
 * Check 4: activations produced elsewhere (e.g. by transformers in PyTorch) against the reference and every ONNX
 * variant. File conventions (SCHEMA.md, "Expected outputs"):
 *  - .safetensors with `input.<name>` [B, L] float inputs (optional `input.<name>_mask` int64 [B, L]) and outputs
 *    `<name>.<output>` (`single.last_hidden_state`, `batch.logits`, `single.hidden_states.3`…): exactly the layout of
 *    fixtures/golden/*.safetensors. The mask is applied when the folder's preprocessor returns one
 *    (return_attention_mask, i.e. layer-norm models), as transformers' processor does.
 *  - outputs named `<name>.<output>` with no `input.<name>` in the file refer to the built-in inputs (`single`, `batch`);
 *    bare output names (`last_hidden_state`) refer to the first --audio file, else to the built-in `single`.
 *  - .npy: one array = the main output (`logits` for head models, else `last_hidden_state`) of the first --audio file,
 *    else of the built-in `single` input.
 */
import { extname } from 'node:path';
import { UsageError } from '../../errors.js';
import { readSafetensors } from '../../readers/disk-safetensors.js';
import { toFloat64 } from '../../tensor.js';
import { compareTensors, type Tolerance } from '../compare.js';
import type { VerifyInput } from '../inputs.js';
import { readNpy } from '../npy.js';
import { VARIANT_FILES, openGraph, presentVariants } from '../onnx-runner.js';
import type { ReferenceCache } from '../reference-cache.js';
import { type CheckItem, type CheckResult, type Variant, checkResult } from '../report.js';
import { compareGraphRun, mainOutputOf } from './parity.js';

interface ExpectedArray {
  data: Float64Array;
  shape: number[];
}

export interface ExpectedSet {
  input: VerifyInput;
  /** whether the expected values were computed with the attention mask */
  masked: boolean;
  outputs: Map<string, ExpectedArray>;
}

function inputFromTensors(name: string, values: ExpectedArray, mask: BigInt64Array | null): VerifyInput {
  if (values.shape.length !== 2) throw new UsageError('E_VERIFY_EXPECTED_INPUT', `expected file: input.${name} must be [batch, samples], not [${values.shape.join(', ')}]`);
  const [batch, length] = values.shape as [number, number];
  const attentionMask = mask ?? new BigInt64Array(batch * length).fill(1n);
  const lengths = Array.from({ length: batch }, (_, b) => {
    let n = 0;
    for (let i = 0; i < length; i++) n += Number(attentionMask[b * length + i]!);
    return n;
  });
  return { name: `expected:${name}`, inputValues: Float32Array.from(values.data), batch, length, lengths, attentionMask };
}

/** Reads --expected into input/output sets (see the module comment for the conventions). */
export function loadExpected(path: string, architecture: string, builtIn: VerifyInput[], audio: VerifyInput[], useMask: boolean): ExpectedSet[] {
  const fallback = audio[0] ?? builtIn.find((i) => i.name === 'single')!;
  if (extname(path).toLowerCase() === '.npy') {
    const array = readNpy(path);
    return [{ input: fallback, masked: false, outputs: new Map([[mainOutputOf(architecture), { data: array.data, shape: array.shape }]]) }];
  }
  if (extname(path).toLowerCase() !== '.safetensors') {
    throw new UsageError('E_VERIFY_EXPECTED_TYPE', `--expected ${path}: use a .safetensors (named activations) or .npy (one array) file`, { file: path });
  }
  const file = readSafetensors(path);
  try {
    const sets = new Map<string, ExpectedSet>();
    const arrays = new Map<string, ExpectedArray>();
    for (const [name, t] of file.tensors) if (t.dtype !== 'I64' && t.dtype !== 'I32') arrays.set(name, { data: toFloat64(t), shape: [...t.shape] });
    const maskOf = (name: string): BigInt64Array | null => {
      const t = file.tensors.get(`input.${name}_mask`);
      if (!t) return null;
      if (t.dtype !== 'I64') throw new UsageError('E_VERIFY_EXPECTED_INPUT', `${path}: input.${name}_mask must be int64`);
      return new BigInt64Array(t.bytes().buffer);
    };
    const setFor = (name: string | null): ExpectedSet => {
      const key = name ?? '';
      let set = sets.get(key);
      if (set) return set;
      const fileInput = name !== null ? arrays.get(`input.${name}`) : undefined;
      let input: VerifyInput | undefined;
      let masked = false;
      if (fileInput) {
        const mask = maskOf(name!);
        input = inputFromTensors(name!, fileInput, mask);
        masked = mask !== null && useMask;
      } else if (name === null) {
        input = fallback;
      } else {
        input = builtIn.find((i) => i.name === name);
        masked = useMask;
      }
      if (!input) throw new UsageError('E_VERIFY_EXPECTED_INPUT', `${path}: outputs "${name}.*" have no input.${name} in the file and "${name}" is not a built-in input (single, batch)`, { file: path });
      set = { input, masked, outputs: new Map() };
      sets.set(key, set);
      return set;
    };
    for (const [name, array] of arrays) {
      if (name.startsWith('input.')) continue;
      const m = /^([^.]+)\.(last_hidden_state|logits|hidden_states\.\d+)$/.exec(name);
      if (m) setFor(m[1]!).outputs.set(m[2]!, array);
      else if (/^(last_hidden_state|logits|hidden_states\.\d+)$/.test(name)) setFor(null).outputs.set(name, array);
      else throw new UsageError('E_VERIFY_EXPECTED_NAME', `${path}: tensor "${name}" is neither input.<name>, <input>.<output> nor an output name (last_hidden_state, logits, hidden_states.<i>)`, { file: path });
    }
    if (sets.size === 0) throw new UsageError('E_VERIFY_EXPECTED_EMPTY', `${path} holds no expected outputs`, { file: path });
    return [...sets.values()];
  } finally {
    file.close();
  }
}

export async function checkExpected(
  dir: string,
  sets: ExpectedSet[],
  tolerances: Record<Variant, Tolerance>,
  cache: ReferenceCache,
): Promise<CheckResult> {
  const items: CheckItem[] = [];
  const asRecord = (set: ExpectedSet) => Object.fromEntries([...set.outputs].map(([k, v]) => [k, v]));
  for (const set of sets) {
    const mask = set.masked ? set.input.attentionMask : null;
    const wantHidden = [...set.outputs.keys()].some((k) => k.startsWith('hidden_states.'));
    const reference = cache.get({ inputValues: set.input.inputValues, batch: set.input.batch, length: set.input.length, mask, hiddenStates: wantHidden });
    for (const [name, expected] of set.outputs) {
      const subject = `reference ${set.input.name} ${name}`;
      const ref = reference[name];
      if (!ref) {
        items.push({ subject, passed: false, message: `the reference has no output "${name}" for this model (it has ${Object.keys(reference).join(', ')})` });
        continue;
      }
      if (ref.shape.join() !== expected.shape.join()) {
        items.push({ subject, passed: false, message: `expected ${name} has shape [${expected.shape.join(', ')}]; the reference gives [${ref.shape.join(', ')}]` });
        continue;
      }
      const comparison = compareTensors(name, ref.data, expected.data, expected.shape, tolerances.fp32, ['reference', 'expected']);
      items.push({ subject, passed: comparison.passed, message: comparison.passed ? 'within tolerance' : comparison.failures.join('; '), comparison });
    }
  }
  for (const variant of presentVariants(dir)) {
    let graph;
    try {
      graph = await openGraph(dir, variant);
    } catch (error) {
      items.push({ subject: variant, passed: false, message: `onnxruntime cannot load ${VARIANT_FILES[variant]}: ${(error as Error).message}` });
      continue;
    }
    try {
      for (const set of sets) {
        const runItems = await compareGraphRun(graph, set.input, set.masked ? set.input.attentionMask : null, () => asRecord(set), tolerances[variant], `${variant} ${set.input.name}`, 'expected');
        // graph outputs the file has no values for are not failures here
        items.push(...runItems.filter((i) => i.comparison || !/no counterpart/.test(i.message)));
      }
    } finally {
      await graph.release();
    }
  }
  const failed = items.filter((i) => !i.passed).length;
  return checkResult('expected', items, `${items.length} comparison(s) with the expected outputs, ${failed === 0 ? 'all within tolerance' : `${failed} failed`}`);
}
