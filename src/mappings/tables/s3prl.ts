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
  drops: [],
};

/** The SUPERB featurizer's softmax-weighted layer sum → HF `use_weighted_layer_sum` weights. */
export const SUPERB_FEATURIZER_TABLE: MappingTable = {
  name: 'superb featurizer',
  renames: [{ hf: 'layer_weights', from: ['weights'] }],
  drops: [],
};
