import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { type DType, isFloatDType } from '../dtype.js';
import type { Conversion } from '../mappings/types.js';
import type { HfModel } from '../model.js';
import { type TensorData, castTensor } from '../tensor.js';
import { VERSION } from '../version.js';
import { describeNonFinite, type NonFiniteTensor } from '../non-finite.js';
import { withTemporaryDir } from './atomic.js';
import { type RemovedConfigKey, withoutRemovedKeys } from './config-keys.js';
import { writeSafetensorsAsync, writeShardedSafetensorsAsync } from './disk-safetensors.js';
import { familyConfigKeys, projectionFile } from '../family-fields.js';
import { localPathRedactor } from './local-paths.js';
import { type CardVerification, GITATTRIBUTES, type ModelCardInput, renderModelCard } from './model-card.js';
import { REPORT_FILE, whyNotReplaceable } from './output-guard.js';

export type OutputDType = 'keep' | 'fp32' | 'fp16' | 'bf16';

const OUTPUT_DTYPES: Readonly<Record<Exclude<OutputDType, 'keep'>, DType>> = { fp32: 'F32', fp16: 'F16', bf16: 'BF16' };
const TORCH_DTYPE_NAMES: Readonly<Partial<Record<DType, string>>> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64' };

export interface SourceFileInfo {
  /** In the report: the file name only (a path given here is reduced to its name). */
  file: string;
  bytes: number;
  sha256: string;
  /** a folder source: the files read from it; `sha256` is then that of their `sha256sum`-style manifest */
  files?: FileRecord[];
}

export interface FileRecord {
  /** Relative to the output folder. */
  path: string;
  bytes: number;
  sha256: string;
}

/** conversion_report.json; its schema is documented in the README ("Output folder"). */
export interface ConversionReport {
  schema: 'hubert-convert/conversion-report';
  version: 1;
  tool: { name: 'hubert-convert'; version: string };
  source: SourceFileInfo & { kind: string };
  upstream?: SourceFileInfo;
  architecture: string;
  dtype: OutputDType;
  files: FileRecord[];
  mapped: Conversion['mapped'];
  dropped: Conversion['dropped'];
  warnings: string[];
  /** keys of the source's JSON files not carried into the output (remote-code pointers, local paths) */
  removedConfigKeys: RemovedConfigKey[];
  /** Tensors with NaN/Inf values, counted as they were written ([] when none). */
  nonFinite?: NonFiniteTensor[];
  /** Pickle globals outside the allow-list the user let through as inert records (`--allow-global`); [] when none. */
  allowedGlobals: string[];
  onnx?: unknown[];
  /** What the ONNX graphs output beyond transformers' (src/outputs.ts OutputsRecord): layer cut, head, units, profile. */
  outputs?: unknown;
}

export type ProgressEvent =
  | { phase: 'hash' | 'weights'; done: number; total: number }
  | { phase: 'onnx' | 'verify'; step: string; done: number; total: number; /** what done/total count ('' = a stage without a counter) */ unit?: string };

export interface WriteFolderOptions {
  /** May be a promise (hashing on another thread while the weights are written); awaited for the report. */
  source: SourceFileInfo | PromiseLike<SourceFileInfo>;
  upstream?: SourceFileInfo | PromiseLike<SourceFileInfo>;
  dtype?: OutputDType;
  /** Bytes of tensor data per safetensors shard (default 5 GB, as transformers). */
  maxShardBytes?: number;
  force?: boolean;
  /** `--allow-global` names the source was read with, for the report. */
  allowedGlobals?: string[];
  onProgress?: (event: ProgressEvent) => void;
  /** Adds files to the temporary folder (the ONNX export); returns report entries to merge. */
  addToFolder?: (tmpDir: string, model: HfModel) => Promise<{ files?: FileRecord[]; onnx?: unknown[]; outputs?: unknown }>;
  /**
   * Runs on the complete temporary folder, report included (verification); throwing aborts and leaves nothing. What
   * it returns goes into the model card (README.md), whose checksum in the report is then updated.
   */
  checkBeforePublish?: (tmpDir: string) => Promise<CardVerification | void>;
  /** Local paths (inputs) that written text must name by file name only; the source and upstream are always included. */
  localPaths?: string[];
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The model's tensors as they will be written: cast where --dtype asks (float tensors only). */
export function outputTensors(conversion: Conversion, dtype: OutputDType): { tensors: Map<string, TensorData>; mapped: Conversion['mapped'] } {
  if (dtype === 'keep') return { tensors: conversion.model.tensors, mapped: conversion.mapped };
  const to = OUTPUT_DTYPES[dtype];
  const tensors = new Map<string, TensorData>();
  for (const [name, t] of conversion.model.tensors) tensors.set(name, isFloatDType(t.dtype) ? castTensor(t, to) : t);
  const mapped = conversion.mapped.map((m) => (isFloatDType(m.dtype) && m.dtype !== to ? { ...m, cast: to } : m));
  return { tensors, mapped };
}

/** The projection head as it will be written: cast like the model's float tensors. */
function outputProjection(conversion: Conversion, dtype: OutputDType): HfModel['projection'] {
  const p = conversion.model.projection;
  if (!p || dtype === 'keep') return p;
  const to = OUTPUT_DTYPES[dtype];
  const cast = (t: TensorData) => (isFloatDType(t.dtype) ? castTensor(t, to) : t);
  return { name: p.name, weight: cast(p.weight), bias: cast(p.bias) };
}

/** The dtype transformers should load the model in: that of the (cast) float weights. */
function modelDType(tensors: Map<string, TensorData>): string {
  const counts = new Map<DType, number>();
  for (const t of tensors.values()) if (isFloatDType(t.dtype)) counts.set(t.dtype, (counts.get(t.dtype) ?? 0) + t.byteLength);
  const main = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'F32';
  return TORCH_DTYPE_NAMES[main] ?? 'float32';
}

/**
 * Writes the Hugging Face folder for a conversion: config.json, preprocessor_config.json, tokenizer files (CTC),
 * model.safetensors (sharded above the limit) and conversion_report.json. Everything is written into a temporary
 * sibling folder and renamed into place at the end, so an error or Ctrl-C leaves nothing behind.
 */
export async function writeHuggingFaceFolder(conversion: Conversion, outDir: string, options: WriteFolderOptions): Promise<ConversionReport> {
  const dtype = options.dtype ?? 'keep';
  const { tensors, mapped } = outputTensors(conversion, dtype);
  const projection = outputProjection(conversion, dtype);
  const model: HfModel = {
    ...conversion.model,
    config: { ...conversion.model.config, dtype: modelDType(tensors) },
    tensors,
    ...(projection ? { projection } : {}),
  };
  return withTemporaryDir(
    outDir,
    async (tmp) => {
      const files: FileRecord[] = [];
      const removedConfigKeys: RemovedConfigKey[] = [];
      const writeText = (name: string, text: string) => {
        writeFileSync(join(tmp, name), text);
        const record = { path: name, bytes: Buffer.byteLength(text), sha256: sha256(text) };
        const at = files.findIndex((f) => f.path === name);
        if (at >= 0) files[at] = record;
        else files.push(record);
      };
      const writeJson = (name: string, value: object) => writeText(name, `${JSON.stringify(value, null, 2)}\n`);
      // settings files only: in vocab.json and tokenizer.json the keys are tokens, which may be spelled like anything
      const writeSettings = (name: string, value: object) => {
        const { value: kept, removed } = withoutRemovedKeys(name, value);
        removedConfigKeys.push(...removed);
        writeJson(name, kept);
      };
      writeSettings('config.json', { ...model.config, ...familyConfigKeys(model) });
      writeSettings('preprocessor_config.json', model.preprocessor);
      if (conversion.tokenizer) {
        writeJson('vocab.json', conversion.tokenizer.vocab);
        writeSettings('tokenizer_config.json', conversion.tokenizer.tokenizerConfig);
        writeJson('special_tokens_map.json', conversion.tokenizer.specialTokensMap);
        writeJson('tokenizer.json', conversion.tokenizer.tokenizerJson);
      }
      const written = await writeShardedSafetensorsAsync(tmp, tensors, {
        maxShardBytes: options.maxShardBytes ?? 5e9,
        onProgress: options.onProgress && ((done, total) => options.onProgress!({ phase: 'weights', done, total })),
      });
      for (const f of written.files) files.push({ path: basename(f.path), bytes: f.bytes, sha256: f.sha256 });
      if (written.index) {
        const text = readFileSync(written.index);
        files.push({ path: basename(written.index), bytes: text.byteLength, sha256: sha256(text) });
      }
      if (projection) {
        // beside the model, never inside it: HubertModel's state dict stays exactly transformers'
        const file = projectionFile(projection.name);
        const head = await writeSafetensorsAsync(join(tmp, file), [
          [`${projection.name}.weight`, projection.weight],
          [`${projection.name}.bias`, projection.bias],
        ]);
        files.push({ path: file, bytes: head.bytes, sha256: head.sha256 });
      }
      const extra = (await options.addToFolder?.(tmp, model)) ?? {};
      files.push(...(extra.files ?? []));
      writeText('.gitattributes', GITATTRIBUTES);

      const source = await options.source;
      const upstream = options.upstream ? await options.upstream : undefined;
      const redact = localPathRedactor([...(options.localPaths ?? []), source.file, ...(upstream ? [upstream.file] : []), outDir, tmp]);
      const named = (info: SourceFileInfo): SourceFileInfo => ({ file: basename(resolve(info.file)), bytes: info.bytes, sha256: info.sha256, ...(info.files ? { files: info.files } : {}) });
      // every tensor has been written: its NaN/Inf counts are complete
      const nonFinite = conversion.valueScan?.results();
      const conversionWarnings = [...conversion.warnings, ...(nonFinite ?? []).map(describeNonFinite)];
      const warnings = [
        ...conversionWarnings,
        ...removedConfigKeys.map((r) => `${r.file}: removed "${r.key}" (${r.reason})`),
      ].map(redact);
      const report: ConversionReport = {
        schema: 'hubert-convert/conversion-report',
        version: 1,
        tool: { name: 'hubert-convert', version: VERSION },
        source: { ...named(source), kind: conversion.kind },
        ...(upstream ? { upstream: named(upstream) } : {}),
        architecture: model.architecture,
        dtype,
        files,
        mapped,
        dropped: conversion.dropped,
        warnings,
        removedConfigKeys,
        ...(nonFinite ? { nonFinite } : {}),
        allowedGlobals: options.allowedGlobals ?? [],
        ...(extra.onnx ? { onnx: extra.onnx } : {}),
        ...(extra.outputs ? { outputs: extra.outputs } : {}),
      };
      const card = (verification?: CardVerification): string => {
        const input: ModelCardInput = {
          name: basename(resolve(outDir)),
          architecture: model.architecture,
          config: model.config,
          kind: conversion.kind,
          source: report.source,
          ...(report.upstream ? { upstream: report.upstream } : {}),
          tool: report.tool,
          dtype,
          files: files.filter((f) => f.path !== 'README.md'),
          ...(extra.onnx ? { onnx: extra.onnx as ModelCardInput['onnx'] } : {}),
          ...(verification ? { verification } : {}),
          warnings: conversionWarnings.map(redact),
          removedConfigKeys,
          ...(projection ? { projection: { name: projection.name, file: projectionFile(projection.name), shape: [...projection.weight.shape] } } : {}),
          ...(model.inputPadding !== undefined ? { inputPadding: model.inputPadding } : {}),
          ...(model.unitLayer !== undefined ? { unitLayer: model.unitLayer } : {}),
        };
        return redact(renderModelCard(input));
      };
      const writeReport = () => writeFileSync(join(tmp, REPORT_FILE), `${JSON.stringify(report, null, 2)}\n`);
      writeText('README.md', card());
      writeReport();
      const verification = await options.checkBeforePublish?.(tmp);
      if (verification) {
        writeText('README.md', card(verification));
        writeReport();
      }
      return report;
    },
    { force: options.force ?? false, whyNotReplaceable },
  );
}
