/**
 * The I/O contracts the voice-conversion projects' ONNX inference code expects of a HuBERT/ContentVec graph
 * (docs/PROFILES.md names the lines of their code each row follows). Data only: `--profile <name>` sets these flags.
 */

export type ProfileName = 'rvc-v1' | 'rvc-v2' | 'so-vits-vec256l9' | 'so-vits-vec768l12' | 'so-vits-hubertsoft';

export interface Profile {
  name: ProfileName;
  project: 'RVC' | 'so-vits-svc';
  /** fairseq output_layer (1-based) of a 12-layer model; undefined: the whole encoder (hubert-soft units()). */
  layer?: number;
  /** Apply the projection head (final_proj / hubert-soft proj). */
  projection: boolean;
  /** Zero samples the graph pads on each side (hubert-soft units(): 40). */
  inputPadding: number;
  /** Channels of the first output the project's code assumes (its hidden_dim / the synthesizer's input width). */
  channels: number;
  /** Where the user drops the graph, relative to the project's folder. */
  dropInAs: string;
  /** What selects it in the project. */
  selectedBy: string;
}

export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  'rvc-v1': {
    name: 'rvc-v1', project: 'RVC', layer: 9, projection: true, inputPadding: 0, channels: 256,
    dropInAs: 'pretrained/vec-256-layer-9.onnx', selectedBy: 'OnnxRVC(model_path, vec_path="vec-256-layer-9") (tools/onnx_inference_demo.py)',
  },
  'rvc-v2': {
    name: 'rvc-v2', project: 'RVC', layer: 12, projection: false, inputPadding: 0, channels: 768,
    dropInAs: 'pretrained/vec-768-layer-12.onnx', selectedBy: 'OnnxRVC(model_path) (its default vec_path="vec-768-layer-12")',
  },
  'so-vits-vec256l9': {
    name: 'so-vits-vec256l9', project: 'so-vits-svc', layer: 9, projection: true, inputPadding: 0, channels: 256,
    dropInAs: 'pretrain/vec-256-layer-9.onnx', selectedBy: '"speech_encoder": "vec256l9-onnx" in the model config',
  },
  'so-vits-vec768l12': {
    name: 'so-vits-vec768l12', project: 'so-vits-svc', layer: 12, projection: false, inputPadding: 0, channels: 768,
    dropInAs: 'pretrain/vec-768-layer-12.onnx', selectedBy: '"speech_encoder": "vec768l12-onnx" in the model config',
  },
  'so-vits-hubertsoft': {
    name: 'so-vits-hubertsoft', project: 'so-vits-svc', projection: true, inputPadding: 40, channels: 256,
    dropInAs: 'pretrain/hubert-soft.onnx', selectedBy: '"speech_encoder": "hubertsoft-onnx" in the model config',
  },
};

/** `--profile` values: the five contracts, and the two project names, which need a model to say which one fits. */
export const PROFILE_CHOICES = [...Object.keys(PROFILES), 'rvc', 'so-vits'] as const;
