/**
 * An independent float64 forward pass of transformers 5.x HubertModel / HubertForCTC /
 * HubertForSequenceClassification, computed straight from an HfModel's state dict. It shares no code with the ONNX
 * graph builder on purpose: the two must agree because both match transformers, not because they share a bug.
 */
import { UsageError } from '../../errors.js';
import type { HfModel } from '../../model.js';
import { encoder } from './encoder.js';
import { featureEncoder, featureProjection } from './feature-encoder.js';
import { validFrames } from './frames.js';
import { classificationHead, ctcHead } from './heads.js';
import { ReferenceWeights } from './weights.js';

export interface ReferenceInput {
  /** [batch, length] row-major samples */
  inputValues: Float32Array;
  batch: number;
  length: number;
  /** [batch, length], 1 = real sample; as in transformers, only the encoder uses it (frame lengths, key mask) */
  attentionMask?: Int32Array | BigInt64Array;
}

export interface ReferenceOptions {
  /** also return `hidden_states.<i>` (i = 0..num_hidden_layers) */
  hiddenStates?: boolean;
}

export interface ReferenceTensor {
  data: Float64Array;
  shape: number[];
}

function stack(parts: Float64Array[], shape: number[]): ReferenceTensor {
  const per = parts[0]!.length;
  const data = new Float64Array(per * parts.length);
  parts.forEach((p, i) => data.set(p, i * per));
  return { data, shape };
}

/** Outputs by name: `last_hidden_state` [B,T,H], `hidden_states.<i>` [B,T,H], `logits` ([B,T,V] CTC, [B,labels] classification). */
export function referenceForward(model: HfModel, input: ReferenceInput, options: ReferenceOptions = {}): Record<string, ReferenceTensor> {
  const { inputValues, batch, length, attentionMask } = input;
  if (!Number.isInteger(batch) || !Number.isInteger(length) || batch < 1 || length < 1 || inputValues.length !== batch * length) {
    throw new UsageError('E_VERIFY_INPUT_SHAPE', `input_values has ${inputValues.length} samples, not batch ${batch} × length ${length}`);
  }
  if (attentionMask && attentionMask.length !== batch * length) {
    throw new UsageError('E_VERIFY_INPUT_SHAPE', `attention_mask has ${attentionMask.length} entries, not batch ${batch} × length ${length}`);
  }
  const config = model.config;
  const weights = new ReferenceWeights(model);
  const utterances: Float64Array[] = [];
  for (let b = 0; b < batch; b++) utterances.push(Float64Array.from(inputValues.subarray(b * length, (b + 1) * length)));

  const features = featureProjection(weights, config, featureEncoder(weights, config, utterances));
  const frames = features[0]!.frames;
  const valid = attentionMask ? validFrames(attentionMask, batch, length, frames, config.conv_kernel, config.conv_stride) : null;
  const isClassifier = model.architecture === 'HubertForSequenceClassification';
  const needHidden = options.hiddenStates === true || (isClassifier && config.use_weighted_layer_sum);
  const enc = encoder(weights, config, features.map((f) => f.data), frames, valid ?? new Array<number>(batch).fill(frames), needHidden);

  const hidden = config.hidden_size;
  const out: Record<string, ReferenceTensor> = {
    last_hidden_state: stack(enc.lastHiddenState, [batch, frames, hidden]),
  };
  if (options.hiddenStates && enc.hiddenStates) {
    enc.hiddenStates.forEach((layer, i) => (out[`hidden_states.${i}`] = stack(layer, [batch, frames, hidden])));
  }
  if (model.architecture === 'HubertForCTC') {
    out.logits = stack(ctcHead(weights, config, enc.lastHiddenState, frames), [batch, frames, config.vocab_size]);
  } else if (isClassifier) {
    const logits = classificationHead(weights, config, enc.lastHiddenState, enc.hiddenStates, frames, valid);
    out.logits = stack(logits, [batch, logits[0]!.length]);
  }
  return out;
}
