import { type MappingTable, weightAndBias } from '../engine.js';
import { ENCODER_RENAMES, WEIGHT_NORM_POS_CONV } from './fairseq.js';

/**
 * s3prl tables. s3prl's converted HuBERT checkpoints (`model_weight`) use fairseq's names and go through the fairseq
 * table. DistilHuBERT and the SUPERB downstream heads have their own.
 */

/**
 * DistilHuBERT (`s3prl/upstream/distiller/model.py`): fairseq's encoder names, but no LayerNorm before
 * post_extract_proj (→ feat_proj_layer_norm: false) and no mask embedding; the prediction heads are training-only.
 */
export const DISTILHUBERT_TABLE: MappingTable = {
  name: 'distilhubert',
  renames: [...ENCODER_RENAMES, ...WEIGHT_NORM_POS_CONV],
  drops: [
    { pattern: 'output_layer.*', reason: 'DistilHuBERT prediction heads (distillation targets); not part of the encoder' },
    { pattern: 'task_embedding.*', reason: 'DistilHuBERT task embedding for the prediction heads; not part of the encoder' },
  ],
};

/**
 * SUPERB utterance-level downstream (`s3prl/downstream/model.py` UtteranceLevel with one post_net linear layer) →
 * HubertForSequenceClassification's head. Applied to the checkpoint's `Downstream` state dict.
 */
export const SUPERB_DOWNSTREAM_TABLE: MappingTable = {
  name: 'superb-utterance-level downstream',
  renames: [...weightAndBias('projector', 'projector'), ...weightAndBias('classifier', 'model.post_net.linear')],
  drops: [
    {
      pattern: 'best_score',
      reason: "training state: the best dev score so far, a buffer every s3prl DownstreamExpert registers to decide when to save dev-best.ckpt; not part of the model",
    },
  ],
};

/** s3prl's HuBERT UpstreamExpert keeps fairseq's HubertModel as `model`: the saved `Upstream` state is `model.<fairseq name>`. */
export const SUPERB_UPSTREAM_PREFIX = 'model.';

/**
 * Class labels that an s3prl downstream expert fixes in its own code (none stores them in the checkpoint), by
 * `Args.downstream`; used when --labels is not given and the classifier has exactly that many classes.
 */
export const SUPERB_EXPERT_LABELS: Readonly<Record<string, readonly string[]>> = {
  // downstream/speech_commands/dataset.py CLASSES
  speech_commands: ['yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go', '_unknown_', '_silence_'],
  // downstream/emotion/meta_data/*/*.json "labels" (IEMOCAP, every fold)
  emotion: ['neu', 'hap', 'ang', 'sad'],
  // downstream/voxceleb1/dataset.py: 1251 speakers, label2speaker(i) = id{10001 + i}
  voxceleb1: Array.from({ length: 1251 }, (_, i) => `id${10001 + i}`),
};

/** The expert whose classifier concatenates the logits of several slots (values_per_slot). */
export const SUPERB_SLOT_EXPERT = 'fluent_commands';

/** The SUPERB featurizer's softmax-weighted layer sum → HF `use_weighted_layer_sum` weights. */
export const SUPERB_FEATURIZER_TABLE: MappingTable = {
  name: 'superb featurizer',
  renames: [{ hf: 'layer_weights', from: ['weights'] }],
  drops: [],
};
