import type { DropRule } from '../engine.js';

/**
 * ContentVec as its fork of fairseq saves it (auspicious3000/contentvec `contentvec/models/hubert/contentvec.py`):
 * a fairseq HuBERT (this family's encoder table applies) whose `encoder_layers` ordinary layers are followed by
 * speaker-conditioned ones and a conditioned final LayerNorm, plus a contrastive head. Inference (`extract_features`,
 * what RVC and so-vits-svc call) runs the ordinary layers only and needs no speaker embedding, so the rest is dropped.
 */
const NEVER_RUN = 'inference runs the ordinary layers only and needs no speaker embedding, so it never reaches this';

/** Every key of a conditioned layer (index ≥ encoder_layers), matched after the layer index was checked. */
export const CONDITIONED_LAYER_DROPS: readonly DropRule[] = [
  { pattern: 'encoder.layers.*', reason: `a speaker-conditioned layer (its LayerNorms are CondLayerNorms over a speaker embedding); ${NEVER_RUN}` },
];

/** The conditioned layer a key belongs to, or undefined. */
export function conditionedLayerOf(key: string, ordinaryLayers: number): number | undefined {
  const m = /^encoder\.layers\.(\d+)\./.exec(key);
  return m && Number(m[1]) >= ordinaryLayers ? Number(m[1]) : undefined;
}

export const CONTENTVEC_DROPS: readonly DropRule[] = [
  { pattern: 'encoder.cond_layer_norm.*', reason: `the speaker-conditioned LayerNorm after the conditioned layers; ${NEVER_RUN}` },
  { pattern: 'layer_proj.*', reason: 'the contrastive-loss projection of ContentVec training (ctr_layers); never used at inference' },
];
