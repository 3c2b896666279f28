import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileSystemError, UsageError, VerificationError } from './errors.js';
import { refuseHubId } from './hub-id.js';
import { hashThreadPolicy } from './node-files.js';
import { checkLabels } from './labels.js';
import { toHuggingFace } from './mappings/index.js';
import type { Conversion, SourceKind } from './mappings/types.js';
import type { HfModel } from './model.js';
import { type Checkpoint, type ReadOptions, globalPolicy, readCheckpoint } from './readers/index.js';
import { readHfFolder } from './readers/hf-folder.js';
import { readDictFile } from './side-inputs.js';
import { checkConvertedTensors } from './readers/lazy-tensor.js';
import { type FileDescription, describeFile, describeFileInBackground } from './source-info.js';
import type { OnnxVariant } from './writers/onnx/index.js';
import { type ConversionReport, type FileRecord, type OutputDType, type ProgressEvent, type SourceFileInfo, writeHuggingFaceFolder } from './writers/folder.js';
import { type InputPath, refuseOutputOverlap } from './writers/output-guard.js';
import { parseSize } from './writers/size.js';
import { validateConversion } from './validate.js';
import { checkMemoryBudget, DEFAULT_MEMORY_BUDGET_MIB } from './verify/piecewise.js';
import { type OutputOptions, type OutputSpec, resolveOutputs } from './outputs.js';
import { readKMeansFile, writeOutputFiles } from './output-files.js';
import type { VerifyOptions, VerifyReport } from './verify/index.js';
import type { GraphOutput } from './verify/onnx-runner.js';

export interface ConvertOptions {
  /** The output folder. */
  out: string;
  /** fairseq dict.ltr.txt for CTC models (path). */
  dict?: string;
  /** Upstream checkpoint of a SUPERB downstream head (path). */
  upstream?: string;
  labels?: string[];
  kind?: SourceKind;
  /** Attention heads of a bshall model that is not 768 wide (its state dict does not record them). */
  attentionHeads?: number;
  dtype?: OutputDType;
  /** e.g. "5GB" or a number of bytes. */
  maxShardSize?: string | number;
  onnx?: OnnxVariant[];
  hiddenStates?: boolean;
  externalData?: boolean;
  /** Pickle globals outside the allow-list to keep as inert records (`--allow-global`); recorded in the report. */
  allowGlobals?: readonly string[];
  /** Accepted for compatibility and ignored: refusing globals outside the allow-list is now the default. */
  strict?: boolean;
  force?: boolean;
  /** The graphs end at this transformer layer (1-based, fairseq's output_layer). Implies `onnx: ['fp32']` when onnx is not given. */
  outputLayer?: number;
  /** Apply the model's projection head (final_proj / hubert-soft proj). */
  finalProj?: boolean;
  /** A k-means quantizer file (fairseq learn_kmeans.py .bin, bshall kmeans .pt): adds int64 `units`. Needs outputLayer. */
  kmeans?: string;
  /** Also output the run-length encoded units (`dedup_units`, `unit_durations`). */
  dedupUnits?: boolean;
  /** A voice-conversion I/O contract (src/profiles.ts, docs/PROFILES.md). */
  profile?: string;
  /** Verify the folder before publishing it; a failed check aborts the conversion (nothing is written). */
  verify?: boolean | Omit<VerifyOptions, 'source' | 'upstream' | 'dict' | 'labels'>;
  /**
   * MiB an onnxruntime session may take when the conversion runs its graphs (the report's accuracy figures, --verify):
   * bigger graphs run in pieces, one loaded at a time (src/verify/piecewise.ts). Default 1024; 0 or 'whole': whole.
   * A `memoryBudgetMiB` inside `verify` is used when this is not given.
   */
  memoryBudgetMiB?: number | 'whole';
  onProgress?: (event: ProgressEvent) => void;
}

export interface ConvertResult {
  out: string;
  report: ConversionReport;
  verification?: VerifyReport;
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

/**
 * The file's sha256 on another thread. Its progress is reported only while the conversion waits for it (when the
 * result is awaited): reported during the weights it would interleave with their progress.
 */
function hashInBackground(path: string, report?: (done: number, total: number) => void): { awaited: PromiseLike<FileDescription>; cancel: () => void } {
  if (statSync(path).size < hashThreadPolicy.minBytes) {
    // a thread costs ~30 ms to start: small files are hashed here, when the report needs the result
    let result: Promise<FileDescription> | undefined;
    const awaited: PromiseLike<FileDescription> = {
      then(onFulfilled, onRejected) {
        result ??= new Promise((resolve) => resolve(describeFile(path, report)));
        return result.then(onFulfilled, onRejected);
      },
    };
    return { awaited, cancel: () => {} };
  }
  let waiting = false;
  let latest: [number, number] | undefined;
  const pending = describeFileInBackground(path, (done, total) => {
    latest = [done, total];
    if (waiting) report?.(done, total);
  });
  const awaited: PromiseLike<FileDescription> = {
    then(onFulfilled, onRejected) {
      if (!waiting && latest && latest[0] < latest[1]) report?.(...latest);
      waiting = true;
      return pending.result.then(onFulfilled, onRejected);
    },
  };
  return { awaited, cancel: pending.cancel };
}

function checkInput(path: string, what: string): void {
  refuseHubId(path, what);
  if (!existsSync(path)) throw new FileSystemError('E_NOT_FOUND', `${what} ${path} does not exist`);
}

/**
 * A folder source for the report: its name, the size and sha256 of each file it was read from, and one sha256 over
 * them (of the `sha256sum`-style manifest: "<sha256>  <file>" lines, sorted by file name).
 */
async function describeFolder(dir: string, files: readonly string[], report?: (done: number, total: number) => void): Promise<SourceFileInfo> {
  const records: FileRecord[] = [];
  for (const file of [...files].sort()) {
    const d = await hashInBackground(join(dir, file), report).awaited;
    records.push({ path: file, bytes: d.bytes, sha256: d.sha256 });
  }
  const manifest = records.map((r) => `${r.sha256}  ${r.path}\n`).join('');
  return { file: dir, bytes: records.reduce((s, r) => s + r.bytes, 0), sha256: createHash('sha256').update(manifest).digest('hex'), files: records };
}

/** Every path a conversion reads, as --out must not overlap it. */
function inputPaths(input: string, options: Pick<ConvertOptions, 'dict' | 'upstream' | 'kmeans'>): InputPath[] {
  return [
    { path: input, what: statSync(input, { throwIfNoEntry: false })?.isDirectory() ? 'the source folder' : 'the checkpoint' },
    ...(options.upstream !== undefined ? [{ path: options.upstream, what: '--upstream' }] : []),
    ...(options.dict !== undefined ? [{ path: options.dict, what: '--dict' }] : []),
    ...(options.kmeans !== undefined ? [{ path: options.kmeans, what: '--kmeans' }] : []),
  ];
}

function projectionEntries(p: HfModel['projection']): Conversion['mapped'] {
  if (!p) return [];
  return (['weight', 'bias'] as const).map((part) => ({ source: `${p.name}.safetensors:${p.name}.${part}`, target: `${p.name}.${part}`, dtype: p[part].dtype, shape: [...p[part].shape] }));
}

/** Reads the source and maps it: a checkpoint file, or an existing Hugging Face folder. */
export function loadSource(input: string, options: Pick<ConvertOptions, 'dict' | 'upstream' | 'labels' | 'kind' | 'attentionHeads' | 'strict' | 'allowGlobals'>): {
  conversion: Conversion;
  close: () => void;
  /** for a folder source: the files it was read from (relative to the folder) */
  sourceFiles?: string[];
} {
  checkInput(input, 'the input');
  if (options.labels) checkLabels(options.labels);
  const readOptions: ReadOptions = options.allowGlobals ? { allowGlobals: options.allowGlobals } : {};
  if (statSync(input).isDirectory()) {
    const folder = readHfFolder(input, readOptions);
    const conversion: Conversion = {
      kind: 'hf-folder',
      model: folder.model,
      mapped: [
        ...[...folder.model.tensors].map(([name, t]) => ({ source: folder.storedNames.get(name) ?? name, target: name, dtype: t.dtype, shape: [...t.shape] })),
        // the projection head beside the model, named in the report by its file
        ...projectionEntries(folder.model.projection),
      ],
      dropped: [],
      warnings: folder.warnings,
    };
    checkConvertedTensors(conversion);
    const sourceFiles = ['config.json', 'preprocessor_config.json', ...folder.weightFiles, ...(conversion.model.projection ? [`${conversion.model.projection.name}.safetensors`] : [])].filter((f) => existsSync(join(input, f)));
    return { conversion, close: () => folder.close(), sourceFiles };
  }
  if (options.dict !== undefined) checkInput(options.dict, '--dict');
  if (options.upstream !== undefined) checkInput(options.upstream, '--upstream');
  const opened: Checkpoint[] = [];
  const close = () => opened.forEach((c) => c.close());
  try {
    const checkpoint = readCheckpoint(input, readOptions);
    opened.push(checkpoint);
    const upstream = options.upstream !== undefined ? readCheckpoint(options.upstream, readOptions) : undefined;
    if (upstream) opened.push(upstream);
    const conversion = toHuggingFace(checkpoint, {
      ...(options.kind ? { kind: options.kind } : {}),
      ...(options.dict !== undefined ? { dictText: readDictFile(options.dict) } : {}),
      ...(upstream ? { upstream } : {}),
      ...(options.labels ? { labels: options.labels } : {}),
      ...(options.attentionHeads !== undefined ? { attentionHeads: options.attentionHeads } : {}),
    });
    checkConvertedTensors(conversion);
    conversion.warnings.push(...checkpoint.warnings, ...(upstream?.warnings ?? []));
    return { conversion, close };
  } catch (error) {
    close();
    throw error;
  }
}

/**
 * The whole job: read → map → write the Hugging Face folder (+ ONNX) in a temporary sibling → optionally verify →
 * publish by rename. On any error nothing is left at `options.out`.
 */
export async function convert(input: string, options: ConvertOptions): Promise<ConvertResult> {
  if (!options.out) throw new UsageError('E_NO_OUTPUT', 'an output folder is required (--out <dir>)');
  const memoryBudgetMiB = checkMemoryBudget(options.memoryBudgetMiB ?? (typeof options.verify === 'object' ? options.verify.memoryBudgetMiB : undefined) ?? DEFAULT_MEMORY_BUDGET_MIB);
  // before anything is read or written: the output may never replace, delete or write into an input
  checkInput(input, 'the input');
  if (options.upstream !== undefined) checkInput(options.upstream, '--upstream');
  if (options.dict !== undefined) checkInput(options.dict, '--dict');
  if (options.kmeans !== undefined) checkInput(options.kmeans, '--kmeans');
  refuseOutputOverlap(options.out, inputPaths(input, options));
  // the inputs' sha256 (for the report) is computed on other threads, overlapping the reading and writing
  const hashProgress = options.onProgress && ((done: number, total: number) => options.onProgress!({ phase: 'hash', done, total }));
  const sourceHash = isFile(input) ? hashInBackground(input, hashProgress) : undefined;
  const upstreamHash = options.upstream !== undefined && isFile(options.upstream) ? hashInBackground(options.upstream, hashProgress) : undefined;
  const cancelHashes = () => {
    sourceHash?.cancel();
    upstreamHash?.cancel();
  };
  let loaded: ReturnType<typeof loadSource>;
  try {
    loaded = loadSource(input, options);
  } catch (error) {
    cancelHashes();
    throw error;
  }
  const { conversion, close } = loaded;
  const folderSource = loaded.sourceFiles ? describeFolder(input, loaded.sourceFiles, hashProgress) : undefined;
  folderSource?.catch(() => {}); // awaited by the writer; an error before then must not go unhandled
  try {
    validateConversion(conversion, input);
    const outputs = resolveConvertOutputs(conversion.model, options, conversion.warnings);
    const onnxVariants = options.onnx && options.onnx.length > 0 ? options.onnx : outputs ? (['fp32'] as OnnxVariant[]) : [];
    const isFolder = conversion.kind === 'hf-folder';
    let verification: VerifyReport | undefined;
    let deferredAccuracy: { tmp: string; model: HfModel; entries: { variant: OnnxVariant; accuracy: unknown }[] } | undefined;
    const accuracyRuns = new Map<OnnxVariant, Record<string, GraphOutput>>();
    const report = await writeHuggingFaceFolder(conversion, options.out, {
      source: sourceHash?.awaited ?? folderSource ?? { file: input, bytes: 0, sha256: '' },
      localPaths: inputPaths(input, options).map((i) => i.path),
      ...(upstreamHash ? { upstream: upstreamHash.awaited } : {}),
      dtype: options.dtype ?? 'keep',
      maxShardBytes: parseSize(options.maxShardSize ?? '5GB'),
      force: options.force ?? false,
      allowedGlobals: [...globalPolicy(options.allowGlobals).userAllowed].sort(),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      addToFolder: async (tmp, model) => {
        const files: FileRecord[] = [];
        let onnx: unknown[] | undefined;
        const extras = writeOutputFiles(tmp, model, outputs);
        files.push(...extras.files);
        if (onnxVariants.length > 0) {
          // loaded on demand: the ONNX writer brings in onnxruntime (~0.1 s of start-up) that plain conversions never use
          const [{ buildOnnx }, { measureVariantAccuracy }] = await Promise.all([import('./writers/onnx/index.js'), import('./verify/variant-accuracy.js')]);
          const built = await buildOnnx(model, tmp, {
            variants: onnxVariants,
            outputs,
            hiddenStates: options.hiddenStates ?? false,
            ...(options.externalData !== undefined ? { externalData: options.externalData } : {}),
            ...(options.onProgress ? { onProgress: (step: string, done: number, total: number) => options.onProgress!({ phase: 'onnx', step, done, total }) } : {}),
          });
          for (const f of built) {
            files.push({ path: f.file, bytes: f.bytes, sha256: f.sha256 });
            if (f.externalData) files.push({ path: f.externalData.file, bytes: f.externalData.bytes, sha256: f.externalData.sha256 });
          }
          onnx = built.map((f) => ({ ...f, accuracy: null as unknown }));
          // with --verify and a published fp32 graph, the figures come from verify's own runs (no second session per graph)
          if (options.verify && onnxVariants.includes('fp32')) deferredAccuracy = { tmp, model, entries: onnx as { variant: OnnxVariant; accuracy: unknown }[] };
          else {
            const accuracyStep = 'measure each variant against fp32';
            options.onProgress?.({ phase: 'onnx', step: accuracyStep, unit: '', done: 0, total: 1 });
            const accuracy = await measureVariantAccuracy(tmp, built.map((f) => f.variant), { model, memoryBudgetMiB });
            options.onProgress?.({ phase: 'onnx', step: accuracyStep, unit: '', done: 1, total: 1 });
            for (const entry of onnx as { variant: OnnxVariant; accuracy: unknown }[]) entry.accuracy = accuracy.find((a) => a.variant === entry.variant) ?? null;
          }
        }
        return { files, ...(onnx ? { onnx } : {}), ...(extras.record ? { outputs: extras.record } : {}) };
      },
      ...(options.verify
        ? {
            checkBeforePublish: async (tmp: string) => {
              const [{ verify }, { ACCURACY_INPUT }] = await Promise.all([import('./verify/index.js'), import('./verify/variant-accuracy.js')]);
              const onProgress = options.onProgress;
              verification = await verify(tmp, {
                ...(typeof options.verify === 'object' ? options.verify : {}),
                memoryBudgetMiB,
                ...(onProgress ? { onProgress: (e: { step: string; unit: string; done: number; total: number }) => onProgress({ phase: 'verify', ...e }) } : {}),
                ...(isFolder ? {} : { source: input, checksumsTakenWhileWriting: true }),
                ...(options.upstream ? { upstream: options.upstream } : {}),
                ...(options.dict ? { dict: options.dict } : {}),
                ...(options.labels ? { labels: options.labels } : {}),
                ...(options.allowGlobals ? { allowGlobals: options.allowGlobals } : {}),
                ...(deferredAccuracy ? { onGraphRun: (variant: OnnxVariant, name: string, outputs: Record<string, GraphOutput>) => name === ACCURACY_INPUT && accuracyRuns.set(variant, outputs) } : {}),
              });
              if (!verification.passed) {
                throw new VerificationError('E_VERIFY_FAILED', `verification of the converted folder failed, so nothing was written to ${options.out}`, {
                  report: verification,
                });
              }
              if (deferredAccuracy) await fillDeferredAccuracy(deferredAccuracy, accuracyRuns, memoryBudgetMiB);
              return { passed: verification.passed, checks: verification.checks.map((c) => ({ name: c.name, passed: c.passed, summary: c.summary, ...(c.skipped !== undefined ? { skipped: c.skipped } : {}) })) };
            },
          }
        : {}),
    });
    // the checks ran in the temporary folder; report the folder as published
    return { out: options.out, report, ...(verification ? { verification: { ...verification, folder: options.out } } : {}) };
  } finally {
    cancelHashes();
    close();
  }
}

/** The conversion's extra outputs (layer cut, head, k-means units, profile), checked before anything is written. */
function resolveConvertOutputs(model: HfModel, options: ConvertOptions, warnings: string[]): OutputSpec | null {
  const outputOptions: OutputOptions = {
    ...(options.outputLayer !== undefined ? { outputLayer: options.outputLayer } : {}),
    ...(options.finalProj ? { finalProj: true } : {}),
    ...(options.kmeans !== undefined ? { kmeans: readKMeansFile(options.kmeans, options.allowGlobals) } : {}),
    ...(options.dedupUnits ? { dedupUnits: true } : {}),
    ...(options.profile !== undefined ? { profile: options.profile } : {}),
  };
  return resolveOutputs(model, outputOptions, warnings);
}

/** The report's accuracy figures from verify's runs, or (a graph verify could not run as usual) measured afresh. */
async function fillDeferredAccuracy(deferred: { tmp: string; model: HfModel; entries: { variant: OnnxVariant; accuracy: unknown }[] }, runs: ReadonlyMap<OnnxVariant, Record<string, GraphOutput>>, memoryBudgetMiB: number | 'whole'): Promise<void> {
  const { accuracyFromRuns, measureVariantAccuracy } = await import('./verify/variant-accuracy.js');
  const variants = deferred.entries.map((e) => e.variant);
  const accuracy = accuracyFromRuns(variants, runs) ?? (await measureVariantAccuracy(deferred.tmp, variants, { model: deferred.model, memoryBudgetMiB }));
  for (const entry of deferred.entries) entry.accuracy = accuracy.find((a) => a.variant === entry.variant) ?? null;
}
