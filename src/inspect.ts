import { statSync } from 'node:fs';
import { join } from 'node:path';
import { HubertConvertError } from './errors.js';
import { detectSource, toHuggingFace } from './mappings/index.js';
import type { HubertConfig } from './model.js';
import { type GlobalUse, type PlainJson, type ReadOptions, readCheckpoint, toPlainJson } from './readers/index.js';
import { DEFAULT_SCAN_LIMIT_BYTES, countNonFinite } from './non-finite.js';
import { LazyTensor, checkConvertedTensors, viewRepeats } from './readers/lazy-tensor.js';
import { readHfFolder } from './readers/hf-folder.js';
import { isDirectory } from './node-files.js';
import type { TensorData } from './tensor.js';
import { type FileOffers, offersOf, quantizerOffers } from './inspect-offers.js';
import { looksLikeJoblibKMeans, readKMeansFile } from './output-files.js';
import type { ConversionOptions } from './mappings/types.js';

/** Checkpoints up to this size get their values scanned for NaN/Inf by default (reading every byte). */
export { DEFAULT_SCAN_LIMIT_BYTES };

/** Warnings for the tensors holding NaN/Inf (views that repeat elements are named, never read element by element). */
function nonFiniteWarnings(tensors: Iterable<{ path: string; tensor: TensorData }>): string[] {
  const warnings: string[] = [];
  for (const { path: p, tensor } of tensors) {
    if (tensor instanceof LazyTensor && viewRepeats(tensor.shape, tensor.strides)) {
      warnings.push(`${p} is a broadcast or overlapping view (${tensor.numel} elements over fewer bytes); its values were not scanned`);
      continue;
    }
    const { nan, inf, total } = countNonFinite(tensor);
    if (nan + inf > 0) warnings.push(`${p} has ${nan} NaN and ${inf} infinite value(s) of ${total}`);
  }
  return warnings;
}

/**
 * A Hugging Face HuBERT folder (what convert writes, or any from_pretrained folder): its config as stored and as
 * transformers reads it, the tensors by their stored names (the projection head's too), what it offers, and NaN/Inf.
 */
function inspectHfFolder(dir: string, options: ReadOptions & { scan?: boolean }): InspectReport {
  const folder = readHfFolder(dir, options);
  try {
    const { model } = folder;
    const entries = [...model.tensors].map(([name, tensor]) => ({ path: folder.storedNames.get(name) ?? name, tensor }));
    const p = model.projection;
    if (p) entries.push({ path: `${p.name}.weight`, tensor: p.weight }, { path: `${p.name}.bias`, tensor: p.bias });
    const tensors = entries.map(({ path, tensor }) => ({ path, dtype: tensor.dtype, shape: [...tensor.shape], bytes: tensor.byteLength }));
    const totalTensorBytes = tensors.reduce((sum, t) => sum + t.bytes, 0);
    const bytes = folder.weightFiles.reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    const valuesScanned = options.scan ?? totalTensorBytes <= DEFAULT_SCAN_LIMIT_BYTES;
    return {
      schema: 'hubert-convert/inspect',
      version: 1,
      file: dir,
      bytes,
      format: 'hf-folder',
      kind: 'hf-folder',
      evidence: `config.json (model_type "hubert", ${model.architecture}) with ${folder.weightFiles.join(', ')}`,
      sourceConfig: toPlainJson(new Map(Object.entries(folder.rawConfig)) as never),
      hfConfig: model.config,
      tensors,
      totalTensorBytes,
      globals: folder.globals,
      allowedGlobals: folder.allowedGlobals,
      valuesScanned,
      warnings: [...folder.warnings, ...(valuesScanned ? nonFiniteWarnings(entries) : [])],
      offers: offersOf(model, true),
    };
  } finally {
    folder.close();
  }
}

/** `hubert-convert inspect --json`: schema documented in the README. */
export interface InspectReport {
  schema: 'hubert-convert/inspect';
  version: 1;
  file: string;
  bytes: number;
  format: string;
  kind: string | null;
  evidence: string;
  /** The source's own model config (fairseq cfg.model, args, s3prl model_cfg, distiller config), as JSON. */
  sourceConfig: PlainJson | null;
  /** The Hugging Face config hubert-convert derives, when the file converts on its own. */
  hfConfig: HubertConfig | null;
  tensors: Array<{ path: string; dtype: string; shape: number[]; bytes: number }>;
  totalTensorBytes: number;
  globals: GlobalUse[];
  /** The `--allow-global` names the file was read with ([] when none). */
  allowedGlobals: string[];
  valuesScanned: boolean;
  warnings: string[];
  /** What the file offers the issue-12 outputs: a model's layers, head, padding and fitting profiles, or a k-means quantizer. */
  offers?: FileOffers;
}

const SOURCE_CONFIG_PATHS: readonly string[][] = [['cfg', 'model'], ['args'], ['model_cfg'], ['Config', 'distiller'], ['Config', 'downstream_expert']];

function sourceConfigOf(root: unknown): PlainJson | null {
  for (const path of SOURCE_CONFIG_PATHS) {
    let v: unknown = root;
    for (const key of path) v = v instanceof Map ? v.get(key) : undefined;
    if (v instanceof Map) return toPlainJson(v as never);
  }
  return null;
}

/**
 * Summarises a checkpoint without converting it: format, detected source kind, the model config it carries, its
 * tensors, the pickle globals it references, and warnings. Values are scanned for NaN/Inf unless the file is large
 * (`scan` forces either way).
 */
export function inspectCheckpoint(path: string, options: ReadOptions & { scan?: boolean } & Pick<ConversionOptions, 'attentionHeads'> = {}): InspectReport {
  if (isDirectory(path)) return inspectHfFolder(path, options);
  // a joblib k-means dump is not a plain pickle (raw array bytes follow its wrappers): read it as a quantizer
  if (looksLikeJoblibKMeans(path)) {
    const q = readKMeansFile(path, options.allowGlobals);
    const bytes = statSync(path).size;
    return {
      schema: 'hubert-convert/inspect', version: 1, file: path, bytes, format: 'joblib', kind: 'kmeans-quantizer',
      evidence: `joblib.dump of ${q.estimator} (fairseq learn_kmeans.py)`, sourceConfig: null, hfConfig: null,
      tensors: [{ path: 'cluster_centers_', dtype: 'F32', shape: [q.clusters, q.dim], bytes: q.centers.byteLength }],
      totalTensorBytes: q.centers.byteLength, globals: q.globals, allowedGlobals: [...(options.allowGlobals ?? [])].sort(), valuesScanned: true,
      warnings: [], offers: quantizerOffers(q),
    };
  }
  const checkpoint = readCheckpoint(path, options);
  try {
    const warnings = [...checkpoint.warnings];
    let kind: string | null = null;
    let evidence = '';
    let hfConfig: HubertConfig | null = null;
    /** Source paths of the tensors the conversion keeps; null when the file does not convert on its own. */
    let kept: Set<string> | null = null;
    let offers: FileOffers | undefined;
    try {
      const detection = detectSource(checkpoint.root, checkpoint.file);
      kind = detection.kind;
      evidence = detection.evidence;
      if (kind === 'superb-downstream') warnings.push('a SUPERB downstream head: convert it with --upstream <its upstream checkpoint>');
      else {
        const heads = options.attentionHeads !== undefined ? { attentionHeads: options.attentionHeads } : {};
        let conversion;
        let headsKnown = true;
        try {
          conversion = toHuggingFace(checkpoint, { kind: detection.kind, ...heads });
        } catch (error) {
          if (!(error instanceof HubertConvertError) || error.code !== 'E_NEEDS_HEADS') throw error;
          // everything but the head count is in the file: map with one head to show the rest, and say what is missing
          warnings.push(`would not convert without --heads: ${error.message}`);
          conversion = toHuggingFace(checkpoint, { kind: detection.kind, attentionHeads: 1 });
          headsKnown = false;
        }
        kept = new Set(conversion.mapped.map((m) => m.source));
        if (headsKnown) hfConfig = conversion.model.config;
        checkConvertedTensors(conversion);
        offers = offersOf(conversion.model, headsKnown);
      }
    } catch (error) {
      if (!(error instanceof HubertConvertError)) throw error;
      const root = checkpoint.root;
      if (kind === null && root instanceof Map && root.has('cluster_centers_')) {
        // bshall's torch-saved k-means dict
        const q = readKMeansFile(path, options.allowGlobals);
        kind = 'kmeans-quantizer';
        evidence = 'a torch-saved {n_features_in_, _n_threads, cluster_centers_} dict (bshall/hubert)';
        offers = quantizerOffers(q);
      } else if (kind === null) evidence = error.message;
      else if (error.code === 'E_NO_VOCABULARY') warnings.push(`a CTC model without its vocabulary: convert it with --dict dict.ltr.txt`);
      else warnings.push(`would not convert: ${error.message}`);
    }
    const tensors = checkpoint.tensors.map(({ path: p, tensor }) => ({
      path: p,
      dtype: tensor.dtype,
      shape: [...tensor.shape],
      bytes: tensor.byteLength,
    }));
    const totalTensorBytes = tensors.reduce((sum, t) => sum + t.bytes, 0);
    const bytes = statSync(path).size;
    const valuesScanned = options.scan ?? bytes <= DEFAULT_SCAN_LIMIT_BYTES;
    // the tensors a conversion keeps (all of them when it would not convert); dropped ones are never read
    if (valuesScanned) warnings.push(...nonFiniteWarnings(checkpoint.tensors.filter(({ path: p }) => !kept || kept.has(p))));
    return {
      schema: 'hubert-convert/inspect',
      version: 1,
      file: path,
      bytes,
      format: checkpoint.format,
      kind,
      evidence,
      sourceConfig: sourceConfigOf(checkpoint.root),
      hfConfig,
      tensors,
      totalTensorBytes,
      globals: checkpoint.globals,
      allowedGlobals: checkpoint.allowedGlobals,
      valuesScanned,
      warnings,
      ...(offers ? { offers } : {}),
    };
  } finally {
    checkpoint.close();
  }
}
