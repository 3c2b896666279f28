/**
 * `verify(dir, options)`: the checks of a converted folder, each reported separately with numbers (SCHEMA.md).
 *   weights  — the folder's tensors are the source checkpoint's, bit for bit (needs options.source)
 *   config   — config.json is valid and agrees with the weights
 *   finite   — no weight holds NaN or Inf
 *   parity   — every ONNX variant agrees with the independent float64 reference forward
 *   expected — activations produced elsewhere agree with the reference and the ONNX variants (options.expected)
 * Unusable input (no folder, no config.json, unreadable --audio/--expected) throws a typed error; everything a check
 * finds wrong is data in the report.
 */
import { HubertConvertError } from '../errors.js';
import { VERSION } from '../version.js';
import { checkConfig } from './checks/config.js';
import { checkFinite } from './checks/finite.js';
import { type ExpectedSet, checkExpected, loadExpected } from './checks/expected.js';
import { type GraphRunListener, checkParity } from './checks/parity.js';
import { checkWeights, unlistedFiles } from './checks/weights.js';
import { openFolder } from './folder.js';
import { budgetBytes } from './onnx-runner.js';
import { DEFAULT_MEMORY_BUDGET_MIB, checkMemoryBudget } from './piecewise.js';
import { type VerifyInput, audioInput, builtInInputs } from './inputs.js';
import { type VerifyProgressSink, stage } from './progress.js';
import { ReferenceCache } from './reference-cache.js';
import { checkInputLength } from './reference/input-length.js';
import { type CheckName, type CheckResult, type VerifyReport, VERIFY_REPORT_SCHEMA, VERIFY_REPORT_VERSION, skippedCheck } from './report.js';
import { type ToleranceOptions, resolveTolerances } from './tolerances.js';
import { refuseHubId } from '../hub-id.js';
import { checkLabels } from '../labels.js';
import { readDictFile } from '../side-inputs.js';

export { referenceForward, type ReferenceInput, type ReferenceOptions, type ReferenceTensor } from './reference/forward.js';
export { compareTensors, type Comparison, type Tolerance, type WorstElement } from './compare.js';
export { DEFAULT_TOLERANCES, resolveTolerances, type ToleranceOptions } from './tolerances.js';
export { formatVerifyReport, VERIFY_REPORT_SCHEMA, VERIFY_REPORT_VERSION } from './report.js';
export type { CheckItem, CheckName, CheckResult, Variant, VerifyInputInfo, VerifyReport } from './report.js';
export { speechLikeSignal } from './inputs.js';
export type { VerifyProgress, VerifyProgressSink } from './progress.js';
export { minimumSamples } from './reference/input-length.js';
export { DEFAULT_MEMORY_BUDGET_MIB } from './piecewise.js';

export interface VerifyOptions extends ToleranceOptions {
  /** the checkpoint the folder was converted from: turns on the weights check */
  source?: string;
  /** set by convert --verify, which has just written the folder: its files' sizes are checked and their SHA-256 not recomputed (see WeightsOptions) */
  checksumsTakenWhileWriting?: boolean;
  /** the upstream checkpoint of a SUPERB downstream head */
  upstream?: string;
  /** fairseq dict.ltr.txt the CTC conversion used (only needed when the checkpoint holds no dictionary) */
  dict?: string;
  /** class labels the conversion used (they do not change tensors; passed through to the mapping) */
  labels?: string[];
  /** extra inputs: .wav (mono 16 kHz PCM16/float32) or .npy (N,) / (1, N) files */
  audio?: string[];
  /** activations produced elsewhere: .safetensors (named) or .npy (one array); see SCHEMA.md */
  expected?: string;
  /** `--allow-global` names for reading the checkpoints (see ReadOptions); an unsafe checkpoint stops verify with exit 3. */
  allowGlobals?: readonly string[];
  /** what verify is doing: each check, the reference forward by layer, each variant's session load and runs */
  onProgress?: VerifyProgressSink;
  /** hears the outputs of every ONNX graph run of the parity check (variant, input name, outputs) */
  onGraphRun?: GraphRunListener;
  /**
   * MiB an onnxruntime session may take: a graph estimated to need more is run in pieces, one loaded at a time
   * (src/verify/piecewise.ts). Default 1024; 0 or 'whole' runs every graph whole.
   */
  memoryBudgetMiB?: number | 'whole';
}

/** A check that throws a typed error (e.g. the reference cannot run on inconsistent weights) fails with its message. */
async function guarded(name: CheckName, run: () => CheckResult | Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await run();
  } catch (error) {
    // an unsafe input is not a failed check: it stops verification (exit 3), as it stops convert and inspect
    if (!(error instanceof HubertConvertError) || error.kind === 'unsafe') throw error;
    return {
      name,
      passed: false,
      summary: `could not complete: ${error.message}`,
      items: [{ subject: name, passed: false, message: `${error.code}: ${error.message}`, details: { code: error.code } }],
    };
  }
}

export async function verify(dir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = performance.now();
  refuseHubId(dir, 'the folder');
  if (options.labels) checkLabels(options.labels);
  const memoryBudget = checkMemoryBudget(options.memoryBudgetMiB ?? DEFAULT_MEMORY_BUDGET_MIB);
  const readOptions = options.allowGlobals ? { allowGlobals: options.allowGlobals } : {};
  const folder = openFolder(dir, readOptions);
  try {
    const { model, rawConfig } = folder;
    const tolerances = resolveTolerances(options);
    const warnings: string[] = [];
    // inputs first: a bad --audio / --expected file is a usage error, not a failed check
    const builtIn = builtInInputs(model.preprocessor);
    const audio = (options.audio ?? []).map((p) => audioInput(p, model.preprocessor));
    for (const input of audio) checkInputLength(model.config, input.length, `--audio ${input.name.slice('audio:'.length)}`);
    const useMaskForExpected = model.preprocessor.return_attention_mask ?? rawConfig['feat_extract_norm'] === 'layer';
    const expectedSets: ExpectedSet[] | null = options.expected ? loadExpected(options.expected, model.architecture, builtIn, audio, useMaskForExpected === true) : null;
    const dictText = options.dict !== undefined ? readDictFile(options.dict) : undefined;

    const progress = options.onProgress;
    const checks: CheckResult[] = [];
    checks.push(
      options.source
        ? await stage(progress, 'weights: compare every tensor with --source', () => guarded('weights', () => checkWeights(folder, { source: options.source!, ...(options.upstream ? { upstream: options.upstream } : {}), ...(dictText !== undefined ? { dictText } : {}), ...(options.labels ? { labels: options.labels } : {}), ...(options.checksumsTakenWhileWriting ? { checksumsTakenWhileWriting: true } : {}), ...readOptions })))
        : skippedCheck('weights', 'no source checkpoint given (--source)'),
    );
    const config = await guarded('config', () => checkConfig(model, rawConfig));
    checks.push(config);
    checks.push(await guarded('finite', () => checkFinite(model)));

    const cache = new ReferenceCache(
      model,
      progress &&
        ((label, rows, p) => progress({ step: `reference forward (float64; ${label}: ${rows} row${rows === 1 ? '' : 's'}): ${p.stage}`, unit: p.unit, done: p.done, total: p.total })),
    );
    const inputs: VerifyInput[] = [...builtIn, ...audio];
    const parity = await guarded('parity', () => checkParity(dir, model.architecture, inputs, tolerances, cache, progress, options.onGraphRun, budgetBytes(memoryBudget)));
    if (!parity.passed && !config.passed) parity.summary += ' (the config check failed too: the reference follows config.json, so fix that first)';
    checks.push(parity);
    checks.push(expectedSets ? await stage(progress, 'expected: compare with --expected', () => guarded('expected', () => checkExpected(dir, expectedSets, tolerances, cache))) : skippedCheck('expected', 'no expected outputs given (--expected)'));

    if (folder.conversionReport) {
      const extra = unlistedFiles(folder, folder.conversionReport);
      if (extra.length) warnings.push(`files not listed in conversion_report.json: ${extra.join(', ')}`);
    }
    const usedInputs = [...inputs, ...(expectedSets ?? []).map((s) => s.input).filter((i) => !inputs.includes(i))];
    return {
      schema: VERIFY_REPORT_SCHEMA,
      version: VERIFY_REPORT_VERSION,
      tool: { name: 'hubert-convert', version: VERSION },
      folder: dir,
      model: {
        architecture: model.architecture,
        hidden_size: rawConfig['hidden_size'],
        num_hidden_layers: rawConfig['num_hidden_layers'],
        do_stable_layer_norm: rawConfig['do_stable_layer_norm'],
        feat_extract_norm: rawConfig['feat_extract_norm'],
      },
      passed: checks.every((c) => c.passed),
      checks,
      inputs: usedInputs.map((i) => ({ name: i.name, batch: i.batch, length: i.length, lengths: i.lengths, padded: i.lengths.some((l) => l < i.length) })),
      tolerances,
      warnings,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    folder.close();
  }
}
