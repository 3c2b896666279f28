import { UsageError } from '../errors.js';
import type { Checkpoint } from '../readers/index.js';
import { detectSource } from './detect.js';
import { sourceEntry } from './sources/registry.js';
import type { Conversion, ConversionOptions, SourceKind } from './types.js';

export { detectSource, type Detection } from './detect.js';
export { SOURCES, REFUSED_FAMILIES, type SourceEntry, type RefusedFamily, type Recognition } from './sources/registry.js';
export { parseConvFeatureLayers, framesFor, type ConvLayerSpec } from './conv-layers.js';
export * from './types.js';

function rootMap(checkpoint: Checkpoint): Map<unknown, unknown> {
  return checkpoint.root instanceof Map ? checkpoint.root : new Map();
}

/**
 * Maps a checkpoint to a Hugging Face model: detects (or takes) the source kind, renames every tensor by its
 * family's table, derives config.json and preprocessor_config.json, and reports what was mapped and dropped.
 * Tensors stay lazy: nothing is read here beyond what the reader already parsed.
 */
export function toHuggingFace(checkpoint: Checkpoint, options: ConversionOptions = {}): Conversion {
  const kind: SourceKind = options.kind ?? detectSource(checkpoint.root, checkpoint.file).kind;
  const entry = sourceEntry(kind);
  if (!entry) throw new UsageError('E_KIND_NEEDS_FOLDER', 'the hf-folder kind applies to a Hugging Face folder, not to a checkpoint file');
  return entry.convert(rootMap(checkpoint), checkpoint.file, options, {
    convertCheckpoint: toHuggingFace,
    detectKind: (c) => detectSource(c.root, c.file).kind,
  });
}
