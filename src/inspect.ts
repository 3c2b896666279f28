import { statSync } from 'node:fs';
import { HubertConvertError } from './errors.js';
import { detectSource, toHuggingFace } from './mappings/index.js';
import type { HubertConfig } from './model.js';
import { type GlobalUse, type PlainJson, type ReadOptions, readCheckpoint, toPlainJson } from './readers/index.js';
import { DEFAULT_SCAN_LIMIT_BYTES, countNonFinite } from './non-finite.js';
import { checkConvertedTensors, viewRepeats } from './readers/lazy-tensor.js';
import { type Offers, type Quantizer, bshallQuantizer, joblibQuantizer, offersOf } from './offers.js';
import { openInputFile } from './node-files.js';
import type { ConversionOptions } from './mappings/types.js';

/** Checkpoints up to this size get their values scanned for NaN/Inf by default (reading every byte). */
export { DEFAULT_SCAN_LIMIT_BYTES };

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
  /** What a model file offers the family outputs (layers, heads, projection head, padding, unit layer, profiles); null otherwise. */
  offers: Offers | null;
  /** Set when the file is a k-means quantizer (by its structure), not a model. */
  quantizer: Quantizer | null;
  warnings: string[];
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
  const joblib = sniffJoblibQuantizer(path);
  if (joblib) return joblib;
  const checkpoint = readCheckpoint(path, options);
  try {
    const warnings = [...checkpoint.warnings];
    let kind: string | null = null;
    let evidence = '';
    let hfConfig: HubertConfig | null = null;
    /** Source paths of the tensors the conversion keeps; null when the file does not convert on its own. */
    let kept: Set<string> | null = null;
    let offers: Offers | null = null;
    const quantizer = bshallQuantizer(checkpoint.root);
    try {
      if (quantizer) {
        evidence = `a k-means quantizer: ${describeQuantizer(quantizer)}`;
      } else {
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
          offers = offersOf(detection.kind, conversion.model, headsKnown);
          checkConvertedTensors(conversion);
        }
      }
    } catch (error) {
      if (!(error instanceof HubertConvertError)) throw error;
      if (kind === null) evidence = error.message;
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
    if (valuesScanned) {
      // the tensors a conversion keeps (all of them when it would not convert); dropped ones are never read
      for (const { path: p, tensor } of checkpoint.tensors) {
        if (kept && !kept.has(p)) continue;
        if (viewRepeats(tensor.shape, tensor.strides)) {
          warnings.push(`${p} is a broadcast or overlapping view (${tensor.numel} elements over fewer bytes); its values were not scanned`);
          continue;
        }
        const { nan, inf, total } = countNonFinite(tensor);
        if (nan + inf > 0) warnings.push(`${p} has ${nan} NaN and ${inf} infinite value(s) of ${total}`);
      }
    }
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
      offers,
      quantizer,
      warnings,
    };
  } finally {
    checkpoint.close();
  }
}

function describeQuantizer(q: Quantizer): string {
  const where = q.format === 'sklearn-joblib' ? 'scikit-learn, saved with joblib.dump (fairseq learn_kmeans.py)' : "bshall/hubert's torch-saved k-means dict";
  return `${q.estimator}, ${where}${q.clusters !== undefined ? `, ${q.clusters} clusters of dimension ${q.dim}` : ''}`;
}

/**
 * A joblib k-means file is recognised by its first bytes, before the pickle is read (its sklearn globals are not on
 * the checkpoint allow-list; reading its cluster centres is the k-means reader's job).
 */
function sniffJoblibQuantizer(path: string): InspectReport | null {
  const source = openInputFile(path, { what: 'file' });
  let quantizer: Quantizer | null;
  try {
    quantizer = joblibQuantizer(source);
  } finally {
    source.close();
  }
  if (!quantizer) return null;
  return {
    schema: 'hubert-convert/inspect',
    version: 1,
    file: path,
    bytes: statSync(path).size,
    format: 'pickle (joblib)',
    kind: null,
    evidence: `a k-means quantizer: ${describeQuantizer(quantizer)}`,
    sourceConfig: null,
    hfConfig: null,
    tensors: [],
    totalTensorBytes: 0,
    globals: [],
    allowedGlobals: [],
    valuesScanned: false,
    offers: null,
    quantizer,
    warnings: ['not a model: use it with a model of the same feature dimension (k-means units of one of its layers)'],
  };
}
