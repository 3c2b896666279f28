/**
 * An independent float64 forward pass of transformers 5.x HubertModel / HubertForCTC /
 * HubertForSequenceClassification, computed straight from an HfModel's state dict. It shares no code with the ONNX
 * graph builder on purpose: the two must agree because both match transformers, not because they share a bug.
 *
 * Rows (utterances) are independent in HuBERT, so the pass takes any number of rows of any lengths and runs them
 * layer by layer together: each weight is decoded once per pass, and the dense layers multiply all rows at once.
 */
import { UsageError } from '../../errors.js';
import type { HfModel } from '../../model.js';
import { encoder } from './encoder.js';
import { featureEncoder, featureProjection } from './feature-encoder.js';
import { validFramesOf } from './frames.js';
import { classificationHead, ctcHead } from './heads.js';
import { checkInputLength } from './input-length.js';
import { ReferenceWeights } from './weights.js';

export interface ReferenceInput {
  /** [batch, length] row-major samples */
  inputValues: Float32Array;
  batch: number;
  length: number;
  /** [batch, length], 1 = real sample; as in transformers, only the encoder uses it (frame lengths, key mask) */
  attentionMask?: Int32Array | BigInt64Array;
}

/** Where a pass is: after each conv layer ("conv layer", of the feature encoder) and each transformer layer ("layer"). */
export interface ReferenceProgress {
  stage: 'feature encoder' | 'encoder';
  unit: 'conv layer' | 'layer';
  done: number;
  total: number;
}

export interface ReferenceOptions {
  /** also return `hidden_states.<i>` (i = 0..num_hidden_layers) */
  hiddenStates?: boolean;
  onProgress?: (progress: ReferenceProgress) => void;
}

export interface ReferenceTensor {
  data: Float64Array;
  shape: number[];
}

/** One utterance of a multi-row pass. */
export interface ReferenceRow {
  /** every sample goes through the conv stack, padding included (transformers never masks the conv stack) */
  samples: Float32Array;
  /** real samples when the row has an attention mask (its sum); null: unmasked */
  realSamples: number | null;
}

/** Outputs per row, each with batch dimension 1 (see referenceForward for the names). */
export function referenceForwardRows(model: HfModel, rows: readonly ReferenceRow[], options: ReferenceOptions = {}): Record<string, ReferenceTensor>[] {
  const config = model.config;
  rows.forEach((row, b) => checkInputLength(config, row.samples.length, rows.length === 1 ? 'the input' : `input row ${b}`));
  const weights = new ReferenceWeights(model);
  const utterances = rows.map((row) => Float64Array.from(row.samples));
  const features = featureProjection(weights, config, featureEncoder(weights, config, utterances, options.onProgress));
  const frames = features.map((f) => f.frames);
  const valid = rows.map((row, b) => (row.realSamples === null ? frames[b]! : validFramesOf(row.realSamples, frames[b]!, config.conv_kernel, config.conv_stride)));
  const isClassifier = model.architecture === 'HubertForSequenceClassification';
  const needHidden = options.hiddenStates === true || (isClassifier && config.use_weighted_layer_sum);
  const enc = encoder(weights, config, features.map((f) => f.data), frames, valid, needHidden, options.onProgress);

  const hidden = config.hidden_size;
  const outputs: Record<string, ReferenceTensor>[] = rows.map((_, b) => ({ last_hidden_state: { data: enc.lastHiddenState[b]!, shape: [1, frames[b]!, hidden] } }));
  if (options.hiddenStates && enc.hiddenStates) {
    enc.hiddenStates.forEach((layer, i) => layer.forEach((state, b) => (outputs[b]![`hidden_states.${i}`] = { data: state, shape: [1, frames[b]!, hidden] })));
  }
  if (model.architecture === 'HubertForCTC') {
    ctcHead(weights, config, enc.lastHiddenState, frames).forEach((logits, b) => (outputs[b]!.logits = { data: logits, shape: [1, frames[b]!, config.vocab_size] }));
  } else if (isClassifier) {
    classificationHead(weights, config, enc.lastHiddenState, enc.hiddenStates, frames, valid).forEach((logits, b) => (outputs[b]!.logits = { data: logits, shape: [1, logits.length] }));
  }
  return outputs;
}

/** Rows of equal shape stacked along the batch dimension. */
export function stackRows(rows: readonly Record<string, ReferenceTensor>[], names: readonly string[] = Object.keys(rows[0] ?? {})): Record<string, ReferenceTensor> {
  const out: Record<string, ReferenceTensor> = {};
  for (const name of names) {
    const first = rows[0]![name]!;
    const per = first.data.length;
    const data = new Float64Array(per * rows.length);
    rows.forEach((r, b) => data.set(r[name]!.data, b * per));
    out[name] = { data, shape: [rows.length, ...first.shape.slice(1)] };
  }
  return out;
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
  checkInputLength(model.config, length, batch === 1 ? 'the input' : `each row of the ${batch}-row batch`);
  const rows: ReferenceRow[] = [];
  for (let b = 0; b < batch; b++) {
    let realSamples: number | null = null;
    if (attentionMask) {
      realSamples = 0;
      for (let i = b * length; i < (b + 1) * length; i++) realSamples += Number(attentionMask[i]!);
    }
    rows.push({ samples: inputValues.subarray(b * length, (b + 1) * length), realSamples });
  }
  return stackRows(referenceForwardRows(model, rows, options));
}
