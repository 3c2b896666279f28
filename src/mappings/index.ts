import { UsageError } from '../errors.js';
import type { Checkpoint } from '../readers/index.js';
import { detectSource } from './detect.js';
import { convertFairseqCtc, convertFairseqPretrained } from './sources/fairseq.js';
import { convertDistilHubert, convertS3prlHubert, convertSuperbDownstream } from './sources/s3prl.js';
import type { Conversion, ConversionOptions, SourceKind } from './types.js';

export { detectSource, type Detection } from './detect.js';
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
  const root = rootMap(checkpoint);
  const file = checkpoint.file;
  switch (kind) {
    case 'fairseq-hubert':
      return convertFairseqPretrained(root, file);
    case 'fairseq-hubert-ctc':
      return convertFairseqCtc(root, file, options);
    case 's3prl-hubert':
      return convertS3prlHubert(root, file);
    case 'distilhubert':
      return convertDistilHubert(root, file);
    case 'superb-downstream': {
      if (!options.upstream) {
        throw new UsageError(
          'E_NEEDS_UPSTREAM',
          root.has('Upstream')
            ? `${file} is a SUPERB downstream head with its fine-tuned Upstream, which has no architecture config. Pass the pretrained upstream it started from: --upstream <fairseq or s3prl HuBERT checkpoint> (its architecture is used with the fine-tuned weights)`
            : `${file} is a SUPERB downstream head; it holds no upstream weights. Pass the upstream checkpoint it was trained on: --upstream <fairseq or s3prl HuBERT checkpoint>`,
        );
      }
      const upstreamKind = options.upstream && detectSource(options.upstream.root, options.upstream.file).kind;
      if (upstreamKind !== 'fairseq-hubert' && upstreamKind !== 's3prl-hubert') {
        throw new UsageError('E_BAD_UPSTREAM', `--upstream ${options.upstream.file} is a ${upstreamKind} checkpoint; a SUPERB head needs a fairseq or s3prl HuBERT upstream`);
      }
      return convertSuperbDownstream(root, file, options, toHuggingFace(options.upstream, { kind: upstreamKind }));
    }
    case 'hf-folder':
      throw new UsageError('E_KIND_NEEDS_FOLDER', 'the hf-folder kind applies to a Hugging Face folder, not to a checkpoint file');
  }
}
