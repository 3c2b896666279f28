/** The task heads: CTC (`lm_head` per frame) and sequence classification (projector → masked mean → classifier). */
import type { HubertConfig } from '../../model.js';
import { linear, softmax } from './ops.js';
import type { ReferenceWeights } from './weights.js';

/** logits [frames, vocab] per utterance. */
export function ctcHead(weights: ReferenceWeights, config: HubertConfig, last: Float64Array[], frames: number[]): Float64Array[] {
  const hidden = config.hidden_size;
  const weight = weights.full('lm_head.weight');
  const bias = weights.full('lm_head.bias');
  return last.map((h, b) => linear(h, frames[b]!, hidden, weight, bias, config.vocab_size));
}

/** Number of classes: classifier rows (num_labels / id2label in config.json are checked by the config check). */
export function numLabelsOf(weights: ReferenceWeights): number {
  return weights.shapeOf('classifier.weight')?.[0] ?? 0;
}

/**
 * logits [num_labels] per utterance. `hiddenStates` (all N+1, 5.x semantics) are needed only with
 * use_weighted_layer_sum. The first `valid[b]` frames are pooled (all of them for an unmasked row).
 */
export function classificationHead(
  weights: ReferenceWeights,
  config: HubertConfig,
  last: Float64Array[],
  hiddenStates: Float64Array[][] | null,
  frames: number[],
  valid: number[],
): Float64Array[] {
  const hidden = config.hidden_size;
  const projSize = config.classifier_proj_size;
  const labels = numLabelsOf(weights);
  const projector = { weight: weights.full('projector.weight'), bias: weights.full('projector.bias') };
  // the label count follows the weights (the config check reports a config that disagrees)
  const classifier = { weight: weights.full('classifier.weight', [labels, projSize]), bias: weights.full('classifier.bias', [labels]) };
  let sources = last;
  if (config.use_weighted_layer_sum) {
    const layers = config.num_hidden_layers + 1;
    const norm = softmax(weights.full('layer_weights'));
    sources = last.map((_, b) => {
      const sum = new Float64Array(frames[b]! * hidden);
      for (let i = 0; i < layers; i++) {
        const h = hiddenStates![i]![b]!;
        const w = norm[i]!;
        for (let j = 0; j < sum.length; j++) sum[j]! += h[j]! * w;
      }
      return sum;
    });
  }
  return sources.map((h, b) => {
    const projected = linear(h, frames[b]!, hidden, projector.weight, projector.bias, projSize);
    const count = valid[b]!;
    const pooled = new Float64Array(projSize);
    for (let t = 0; t < count; t++) for (let c = 0; c < projSize; c++) pooled[c]! += projected[t * projSize + c]!;
    for (let c = 0; c < projSize; c++) pooled[c]! /= count;
    return linear(pooled, 1, projSize, classifier.weight, classifier.bias, labels);
  });
}
