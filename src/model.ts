import type { TensorData } from './tensor.js';

/**
 * ONNX variants we write, named by transformers.js's `dtype` option, and their file names in the folder (the names
 * transformers.js loads for each dtype: `model${suffix}.onnx`). What each one is: src/writers/onnx/variants.ts.
 */
export type OnnxVariant = 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'q4f16' | 'bnb4';
export const ONNX_VARIANT_FILES: Readonly<Record<OnnxVariant, string>> = {
  fp32: 'onnx/model.onnx',
  fp16: 'onnx/model_fp16.onnx',
  q8: 'onnx/model_quantized.onnx',
  int8: 'onnx/model_int8.onnx',
  uint8: 'onnx/model_uint8.onnx',
  q4: 'onnx/model_q4.onnx',
  q4f16: 'onnx/model_q4f16.onnx',
  bnb4: 'onnx/model_bnb4.onnx',
};
/** Every variant, in the order they are written and reported. */
export const ONNX_VARIANTS = Object.keys(ONNX_VARIANT_FILES) as readonly OnnxVariant[];

/** The Hugging Face classes we produce. */
export type HfArchitecture = 'HubertModel' | 'HubertForCTC' | 'HubertForSequenceClassification';

/**
 * config.json of a transformers HuBERT model (`model_type: "hubert"`). Every field is written explicitly; see
 * ../shared/docs/formats.md §1.1 for the meaning and defaults of each one.
 */
export interface HubertConfigFields {
  model_type: 'hubert';
  architectures: HfArchitecture[];
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout: number;
  activation_dropout: number;
  attention_dropout: number;
  feat_proj_layer_norm: boolean;
  feat_proj_dropout: number;
  final_dropout: number;
  layerdrop: number;
  initializer_range: number;
  layer_norm_eps: number;
  feat_extract_norm: 'group' | 'layer';
  feat_extract_activation: string;
  conv_dim: number[];
  conv_stride: number[];
  conv_kernel: number[];
  conv_bias: boolean;
  num_feat_extract_layers: number;
  num_conv_pos_embeddings: number;
  num_conv_pos_embedding_groups: number;
  conv_pos_batch_norm: boolean;
  do_stable_layer_norm: boolean;
  apply_spec_augment: boolean;
  mask_time_prob: number;
  mask_time_length: number;
  mask_time_min_masks: number;
  mask_feature_prob: number;
  mask_feature_length: number;
  mask_feature_min_masks: number;
  ctc_loss_reduction: string;
  ctc_zero_infinity: boolean;
  use_weighted_layer_sum: boolean;
  classifier_proj_size: number;
  pad_token_id: number;
  bos_token_id: number;
  eos_token_id: number;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  num_labels?: number;
  dtype?: string;
}

/** HubertConfigFields plus whatever else a config.json carries (transformers keeps unknown keys as attributes). */
export interface HubertConfig extends HubertConfigFields {
  [extra: string]: unknown;
}

/** preprocessor_config.json (Wav2Vec2FeatureExtractor). */
export interface PreprocessorConfig {
  feature_extractor_type: 'Wav2Vec2FeatureExtractor';
  feature_size: 1;
  sampling_rate: 16000;
  padding_value: 0;
  padding_side: 'right';
  do_normalize: boolean;
  return_attention_mask: boolean;
  processor_class?: string;
}

/**
 * A model in Hugging Face terms: the product of mapping, the input of the writers, the ONNX builder and the verifier.
 * Tensor names are transformers state-dict names (`hubert.` prefix for heads), in the order they should be written.
 */
export interface HfModel {
  architecture: HfArchitecture;
  config: HubertConfig;
  preprocessor: PreprocessorConfig;
  tensors: Map<string, TensorData>;
  /** A projection head the source carries beyond transformers' HuBERT (ContentVec/HuBERT `final_proj`, hubert-soft `proj`). */
  projection?: ProjectionHead;
  /**
   * Zero samples the original inference API pads on each side of the waveform before encoding (bshall's hubert-soft
   * and hubert-discrete `units()`: 40). Graphs that reproduce that API pad inside; transformers' HubertModel does not.
   */
  inputPadding?: number;
  /**
   * The 1-based transformer layer whose output the original code quantises into discrete units (bshall's
   * hubert-discrete `units()`: layer 7). Informational for outputs that cut the graph (`--output-layer`, `--kmeans`).
   */
  unitLayer?: number;
}

/**
 * A Linear(hidden → out) head some HuBERT-family checkpoints carry that transformers' HubertModel has no place for. It is
 * written beside the model as `<name>.safetensors` holding `<name>.weight` [out, hidden] and `<name>.bias` [out] (the
 * layout RVC-style loaders read), and applied by `--final-proj` to the chosen layer's output.
 */
export interface ProjectionHead {
  /** What the source calls it: `final_proj` (fairseq HuBERT, ContentVec) or `proj` (hubert-soft). */
  name: 'final_proj' | 'proj';
  weight: TensorData;
  bias: TensorData;
}
