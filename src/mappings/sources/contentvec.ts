import type { Conversion } from '../types.js';
import { CONDITIONED_LAYER_DROPS, CONTENTVEC_DROPS, conditionedLayerOf } from '../tables/contentvec.js';
import { fairseqConfig, convertFairseqPretrained } from './fairseq.js';

/**
 * ContentVec non-legacy (`checkpoint_best_500.pt`, `_name: contentvec`): the ordinary layers and `final_proj` as a
 * fairseq HuBERT, the speaker-conditioned layers, their LayerNorm and the contrastive head dropped by rule. What
 * remains is the legacy file's model (the author's legacy conversion pops exactly these keys).
 */
export function convertContentvec(root: Map<unknown, unknown>, file: string): Conversion {
  const ordinary = fairseqConfig(root, file).model.number('encoder_layers', 12);
  const conversion = convertFairseqPretrained(root, file, 'contentvec', {
    name: 'contentvec',
    drops: CONTENTVEC_DROPS,
    apart: { keys: (k) => conditionedLayerOf(k, ordinary) !== undefined, drops: CONDITIONED_LAYER_DROPS },
  });
  const conditioned = new Set(conversion.dropped.map((d) => conditionedLayerOf(d.source.slice(d.source.indexOf('/') + 1), ordinary)).filter((n) => n !== undefined));
  if (conditioned.size > 0) {
    conversion.warnings.push(
      `${conditioned.size} speaker-conditioned layer(s) (encoder.layers.${[...conditioned].sort((a, b) => a - b).join(', ')}) dropped: the model is ContentVec's ${ordinary}-layer inference encoder, as the legacy checkpoint holds it`,
    );
  }
  return conversion;
}

/** ContentVec legacy (`checkpoint_best_legacy_500.pt`): a plain fairseq HuBERT whose final_proj is what RVC v1 and so-vits vec256l9 apply. */
export function convertContentvecLegacy(root: Map<unknown, unknown>, file: string): Conversion {
  return convertFairseqPretrained(root, file, 'contentvec-legacy');
}
