import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ConvertOptions, type ConvertResult, convert } from '../convert.js';
import { EXIT_CODES, FileSystemError, UsageError } from '../errors.js';
import { refuseHubId } from '../hub-id.js';
import { inspectCheckpoint } from '../inspect.js';
import type { SourceKind } from '../mappings/types.js';
import type { VerifyOptions } from '../verify/index.js';
import type { OutputDType } from '../writers/folder.js';
import { ONNX_VARIANTS, type OnnxVariant } from '../model.js';
import { createProgress, progressReporter, type ProgressSink } from './progress.js';
import { renderConvertSummary, renderInspect } from './render.js';

interface CommonFlags {
  json?: boolean;
  quiet?: boolean;
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function progressFor(flags: CommonFlags): ProgressSink {
  return createProgress(process.stderr, !flags.quiet);
}

function onnxVariants(values: string[] | undefined): OnnxVariant[] | undefined {
  if (!values) return undefined;
  for (const v of values) {
    if (!(ONNX_VARIANTS as readonly string[]).includes(v)) throw new UsageError('E_BAD_OPTION', `--onnx takes transformers.js dtype names: ${ONNX_VARIANTS.join(',')}; "${v}" is not one of them`);
  }
  return values as OnnxVariant[];
}

/** --memory-budget: MiB (decimals allowed), or 0 / "whole" for whole-graph runs. */
function memoryBudget(value: string | undefined): number | 'whole' | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'whole') return 'whole';
  if (!/^\d{1,9}(\.\d{1,6})?$/.test(v)) throw new UsageError('E_USAGE_MEMORY_BUDGET', `--memory-budget takes a number of MiB (e.g. 1024), or 0 / "whole" to run every ONNX graph whole; "${value}" is not one`);
  return Number(v);
}

async function convertWithProgress(input: string, options: ConvertOptions, progress: ProgressSink): Promise<ConvertResult> {
  const reporter = progressReporter(progress);
  const result = await convert(input, {
    ...options,
    onProgress: (e) => {
      if (!('step' in e)) {
        reporter.report(e.phase === 'weights' ? 'writing safetensors' : 'hashing the source (sha256)', e.done, e.total, 'bytes');
        return;
      }
      // the ONNX writer counts initializers (tensors); verify names its own units
      reporter.report(`${e.phase}: ${e.step}`, e.done, e.total, e.unit ?? (e.phase === 'onnx' ? 'tensor' : ''));
    },
  });
  reporter.end();
  return result;
}

export async function runConvert(
  input: string,
  flags: CommonFlags & {
    out: string;
    dict?: string;
    upstream?: string;
    labels?: string[];
    onnx?: string[];
    hiddenStates?: boolean;
    externalData?: boolean;
    dtype: OutputDType;
    maxShardSize: string;
    kind?: SourceKind;
    heads?: number;
    allowGlobal: string[];
    force?: boolean;
    verify?: boolean;
    memoryBudget?: string;
    outputLayer?: number;
    finalProj?: boolean;
    kmeans?: string;
    dedupUnits?: boolean;
    profile?: string;
  },
): Promise<void> {
  const variants = onnxVariants(flags.onnx);
  const budget = memoryBudget(flags.memoryBudget);
  const result = await convertWithProgress(
    input,
    {
      out: flags.out,
      dtype: flags.dtype,
      maxShardSize: flags.maxShardSize,
      ...(flags.dict !== undefined ? { dict: flags.dict } : {}),
      ...(flags.upstream !== undefined ? { upstream: flags.upstream } : {}),
      ...(flags.labels ? { labels: flags.labels } : {}),
      ...(variants ? { onnx: variants } : {}),
      hiddenStates: flags.hiddenStates ?? false,
      ...(flags.externalData ? { externalData: true } : {}),
      ...(flags.kind ? { kind: flags.kind } : {}),
      ...(flags.heads !== undefined ? { attentionHeads: flags.heads } : {}),
      ...(flags.allowGlobal.length > 0 ? { allowGlobals: flags.allowGlobal } : {}),
      force: flags.force ?? false,
      verify: flags.verify ?? false,
      ...(budget !== undefined ? { memoryBudgetMiB: budget } : {}),
      ...(flags.outputLayer !== undefined ? { outputLayer: flags.outputLayer } : {}),
      ...(flags.finalProj ? { finalProj: true } : {}),
      ...(flags.kmeans !== undefined ? { kmeans: flags.kmeans } : {}),
      ...(flags.dedupUnits ? { dedupUnits: true } : {}),
      ...(flags.profile !== undefined ? { profile: flags.profile } : {}),
    },
    progressFor(flags),
  );
  if (flags.json) printJson({ schema: 'hubert-convert/convert-result', version: 1, ...result });
  else process.stdout.write(renderConvertSummary(result));
}

export async function runInspect(file: string, flags: CommonFlags & { allowGlobal: string[]; scan?: boolean; heads?: number }): Promise<void> {
  refuseHubId(file, 'the file');
  const report = inspectCheckpoint(file, {
    allowGlobals: flags.allowGlobal,
    ...(flags.scan !== undefined ? { scan: flags.scan } : {}),
    ...(flags.heads !== undefined ? { attentionHeads: flags.heads } : {}),
  });
  if (flags.json) printJson(report);
  else process.stdout.write(renderInspect(report));
}

export async function runVerify(
  dir: string,
  flags: CommonFlags & {
    source?: string;
    upstream?: string;
    dict?: string;
    labels?: string[];
    audio: string[];
    expected?: string;
    atol?: number;
    rtol?: number;
    minCosine?: number;
    allowGlobal: string[];
    memoryBudget?: string;
  },
): Promise<void> {
  const budget = memoryBudget(flags.memoryBudget);
  const options: VerifyOptions = {
    ...(budget !== undefined ? { memoryBudgetMiB: budget } : {}),
    ...(flags.source !== undefined ? { source: flags.source } : {}),
    ...(flags.upstream !== undefined ? { upstream: flags.upstream } : {}),
    ...(flags.dict !== undefined ? { dict: flags.dict } : {}),
    ...(flags.labels ? { labels: flags.labels } : {}),
    ...(flags.audio.length > 0 ? { audio: flags.audio } : {}),
    ...(flags.expected !== undefined ? { expected: flags.expected } : {}),
    ...(flags.atol !== undefined ? { atol: flags.atol } : {}),
    ...(flags.rtol !== undefined ? { rtol: flags.rtol } : {}),
    ...(flags.minCosine !== undefined ? { minCosine: flags.minCosine } : {}),
    ...(flags.allowGlobal.length > 0 ? { allowGlobals: flags.allowGlobal } : {}),
  };
  // loaded on demand: verification brings in onnxruntime, which the other commands never need at start-up
  const { formatVerifyReport, verify } = await import('../verify/index.js');
  const reporter = progressReporter(progressFor(flags));
  const report = await verify(dir, { ...options, onProgress: (e) => reporter.report(e.step, e.done, e.total, e.unit) });
  reporter.end();
  if (flags.json) printJson(report);
  else process.stdout.write(formatVerifyReport(report));
  if (!report.passed) process.exitCode = EXIT_CODES.verification;
}

/** The fixture the demo converts: a tiny fairseq HuBERT checkpoint written by real torch.save. */
export const DEMO_CHECKPOINT = fileURLToPath(new URL('../../fixtures/checkpoints/fairseq_large_dictconfig.pt', import.meta.url));

export async function runDemo(flags: CommonFlags & { keep?: boolean }): Promise<void> {
  if (!existsSync(DEMO_CHECKPOINT)) {
    throw new FileSystemError('E_NOT_FOUND', `the demo fixture ${DEMO_CHECKPOINT} is missing; run the demo from a clone of the repository`);
  }
  const parent = mkdtempSync(join(tmpdir(), 'hubert-convert-demo-'));
  const out = join(parent, 'hubert-demo');
  try {
    const result = await convertWithProgress(DEMO_CHECKPOINT, { out, onnx: ['fp32', 'fp16', 'q8'], verify: true }, progressFor(flags));
    if (flags.json) printJson({ schema: 'hubert-convert/convert-result', version: 1, ...result });
    else {
      process.stdout.write(`Demo: converted the bundled fixture ${DEMO_CHECKPOINT}\n\n`);
      process.stdout.write(renderConvertSummary(result));
      const { formatVerifyReport } = await import('../verify/report.js');
      if (result.verification) process.stdout.write(`\n${formatVerifyReport(result.verification)}`);
      process.stdout.write(flags.keep ? `\nThe folder is kept at ${out}\n` : '\n(the demo folder was removed; pass --keep to keep it)\n');
    }
  } finally {
    if (!flags.keep) rmSync(parent, { recursive: true, force: true });
  }
}
