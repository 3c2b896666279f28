/**
 * The files the extra outputs need beside the model (src/outputs.ts): the projection head (`<name>.safetensors`,
 * which transformers' HubertModel has no place for) and the k-means centres (`kmeans.safetensors`), so the folder
 * alone says what its graphs compute and verify can recompute it. Also the --kmeans input, read from disk.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { HfModel } from './model.js';
import { openInputFile } from './node-files.js';
import { KMEANS_FILE, KMEANS_TENSOR, type OutputSpec, type OutputsRecord, describeOutputs, projectionFile } from './outputs.js';
import { type KMeansQuantizer, centersTensor, readKMeans } from './readers/kmeans.js';
import { writeSafetensors } from './writers/disk-safetensors.js';
import type { FileRecord } from './writers/folder.js';

/** A pickle naming joblib's array wrapper or an sklearn estimator in its first KiB: a joblib k-means dump. */
export function looksLikeJoblibKMeans(path: string): boolean {
  const source = openInputFile(path, { what: 'file' });
  try {
    const head = source.read(0, Math.min(source.size, 1024));
    if (head[0] !== 0x80) return false;
    const text = new TextDecoder('latin1').decode(head);
    return text.includes('sklearn.cluster') || text.includes('joblib.numpy_pickle');
  } finally {
    source.close();
  }
}

export function readKMeansFile(path: string, allowGlobals?: readonly string[]): KMeansQuantizer {
  const source = openInputFile(path, { what: 'k-means quantizer' });
  try {
    return readKMeans(source, allowGlobals ? { allowGlobals } : {});
  } finally {
    source.close();
  }
}

/** Writes the head (whenever the model has one and the folder does not hold it yet) and the centres (with --kmeans). */
export function writeOutputFiles(dir: string, model: HfModel, spec: OutputSpec | null): { files: FileRecord[]; record: OutputsRecord | null } {
  const files: FileRecord[] = [];
  const head = model.projection;
  if (head && !existsSync(join(dir, projectionFile(head)))) {
    const written = writeSafetensors(join(dir, projectionFile(head)), [[`${head.name}.weight`, head.weight], [`${head.name}.bias`, head.bias]]);
    files.push({ path: projectionFile(head), bytes: written.bytes, sha256: written.sha256 });
  }
  if (spec?.kmeans) {
    const q = spec.kmeans;
    const written = writeSafetensors(join(dir, KMEANS_FILE), [[KMEANS_TENSOR, centersTensor(q)]], {
      metadata: { format: 'pt', source: basename(q.file), source_format: q.format, ...(q.estimator ? { estimator: q.estimator } : {}) },
    });
    files.push({ path: KMEANS_FILE, bytes: written.bytes, sha256: written.sha256 });
  }
  return { files, record: spec ? describeOutputs(spec) : null };
}
