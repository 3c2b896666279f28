import type { DType } from '../dtype.js';
import type { HfModel } from '../model.js';

/** The source families hubert-convert recognises. */
export type SourceKind =
  | 'fairseq-hubert' // fairseq HubertModel pretraining checkpoint (cfg dict, DictConfig or old args Namespace)
  | 'fairseq-hubert-ctc' // fairseq HubertCtc fine-tuned checkpoint
  | 's3prl-hubert' // s3prl's converted HuBERT checkpoint (task_cfg, model_cfg, model_weight, dictionaries_symbols)
  | 'distilhubert' // s3prl distiller checkpoint
  | 'superb-downstream' // s3prl SUPERB utterance-level downstream checkpoint (needs its upstream)
  | 'contentvec-legacy' // ContentVec converted to a plain fairseq HuBERT (checkpoint_best_legacy_500.pt, RVC's hubert_base.pt)
  | 'contentvec' // ContentVec as its fork of fairseq saves it (checkpoint_best_500.pt): speaker-conditioned layers on top
  | 'hubert-soft' // bshall/hubert HubertSoft state dict (torch.hub release or train.py checkpoint)
  | 'hubert-discrete' // bshall/hubert HubertDiscrete state dict (its k-means is a separate file)
  | 'hf-folder'; // an existing Hugging Face HuBERT folder

export const SOURCE_KINDS: readonly SourceKind[] = [
  'fairseq-hubert',
  'fairseq-hubert-ctc',
  's3prl-hubert',
  'distilhubert',
  'superb-downstream',
  'contentvec-legacy',
  'contentvec',
  'hubert-soft',
  'hubert-discrete',
  'hf-folder',
];

export interface MappedTensor {
  /** Checkpoint tensor path (`model/encoder.layers.0.fc1.weight`); prefixed `upstream:` when it comes from --upstream. */
  source: string;
  /** Hugging Face state-dict name. */
  target: string;
  dtype: DType;
  shape: number[];
  /** First-dimension rows [start, end) of the source it is, when the source is a fused tensor split in parts. */
  rows?: [number, number];
  /** Set by the writer when the tensor was cast on the way out. */
  cast?: DType;
}

export interface DroppedTensor {
  source: string;
  reason: string;
}

/** CTC tokenizer files (Wav2Vec2CTCTokenizer), as JSON-ready objects. */
export interface TokenizerFiles {
  vocab: Record<string, number>;
  tokenizerConfig: Record<string, unknown>;
  specialTokensMap: Record<string, string>;
  tokenizerJson: Record<string, unknown>;
}

export interface Conversion {
  kind: SourceKind;
  model: HfModel;
  mapped: MappedTensor[];
  dropped: DroppedTensor[];
  warnings: string[];
  tokenizer?: TokenizerFiles;
  /** Source name a missing HF tensor would have had, when the mapping can say (for validation messages). */
  sourceNameOf?: (target: string) => string | undefined;
  /** Set by the validate stage: counts NaN/Inf as the writer reads the tensors (the report's `nonFinite`). */
  valueScan?: import('../non-finite.js').NonFiniteWatch;
}

export interface ConversionOptions {
  /** Override detection. */
  kind?: SourceKind;
  /** fairseq `dict.ltr.txt` contents for CTC models (the text, not a path). */
  dictText?: string;
  /** The upstream checkpoint of a SUPERB downstream head (already read). */
  upstream?: import('../readers/index.js').Checkpoint;
  /** Class labels for sequence classification, in class-index order. */
  labels?: string[];
  /**
   * Attention heads of a bshall/hubert model (its state dict does not record them; its code fixes 12 heads of 64
   * channels for the 768-wide releases). Needed only for other widths; ignored by sources whose config says.
   */
  attentionHeads?: number;
}
