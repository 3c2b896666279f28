import { UnsupportedModelError } from '../errors.js';
import type { SourceKind } from './types.js';

export interface Detection {
  kind: SourceKind;
  /** Why we think so, for `inspect` and for error messages. */
  evidence: string;
}

function keysOf(value: unknown): string[] {
  return value instanceof Map ? [...value.keys()].filter((k): k is string => typeof k === 'string') : [];
}

function describeTop(root: unknown): string {
  if (!(root instanceof Map)) return `a ${Array.isArray(root) ? 'list' : root === null ? 'None' : typeof root} at the top level`;
  const keys = keysOf(root);
  return `top-level keys ${keys.slice(0, 12).map((k) => JSON.stringify(k)).join(', ')}${keys.length > 12 ? ', …' : ''}`;
}

/**
 * Recognises the source family from the checkpoint's top-level structure (never from the file name).
 * An unrecognised file gets an error that says what was found.
 */
export function detectSource(root: unknown, file: string): Detection {
  const top = new Set(keysOf(root));
  if (top.has('Distiller') && top.has('Config')) return { kind: 'distilhubert', evidence: 'has "Distiller" and "Config" (s3prl distiller checkpoint)' };
  if (top.has('Downstream') && top.has('Featurizer')) {
    return { kind: 'superb-downstream', evidence: 'has "Downstream" and "Featurizer" (s3prl downstream checkpoint)' };
  }
  if (top.has('model_weight') && top.has('model_cfg') && top.has('task_cfg')) {
    return { kind: 's3prl-hubert', evidence: 'has "task_cfg", "model_cfg" and "model_weight" (s3prl converted checkpoint)' };
  }
  const map = root as Map<unknown, unknown>;
  if (top.has('model') && (map.get('cfg') instanceof Map || map.get('args') instanceof Map)) {
    const stateKeys = keysOf(map.get('model'));
    if (stateKeys.some((k) => k.startsWith('w2v_encoder.w2v_model.'))) {
      return { kind: 'fairseq-hubert-ctc', evidence: 'has "model" with w2v_encoder.w2v_model.* keys (fairseq fine-tuned encoder)' };
    }
    if (stateKeys.some((k) => k.startsWith('quantizer.') || k === 'project_q.weight')) {
      throw new UnsupportedModelError('E_UNSUPPORTED_MODEL', `${file}: this is a fairseq wav2vec 2.0 checkpoint (it has a quantizer), not HuBERT; hubert-convert converts HuBERT models`);
    }
    if (stateKeys.includes('feature_extractor.conv_layers.0.0.weight')) {
      return { kind: 'fairseq-hubert', evidence: 'has "model" with fairseq HubertModel keys and a config' };
    }
  }
  throw new UnsupportedModelError(
    'E_UNKNOWN_SOURCE',
    `${file}: not a checkpoint kind hubert-convert recognises (found ${describeTop(root)}). Supported: fairseq HuBERT (pretrained or CTC fine-tuned), s3prl converted HuBERT, DistilHuBERT, SUPERB downstream; use --kind to force one`,
  );
}
