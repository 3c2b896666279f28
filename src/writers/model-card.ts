/**
 * README.md (a Hugging Face model card) and .gitattributes for every folder we write, so the folder can be pushed to
 * the Hub as it is. The card says what the model is, where it came from (file name and sha256, never a local path),
 * which tool converted it and what was measured. Its YAML front matter uses a fixed vocabulary: plain words and
 * hyphens, so nothing in it needs quoting.
 */
import type { HfArchitecture, HubertConfig } from '../model.js';
import type { SourceKind } from '../mappings/types.js';

/** Git LFS rules for the large binary files (the Hub stores these through LFS). */
export const GITATTRIBUTES = ['*.safetensors', '*.onnx', '*.onnx_data'].map((p) => `${p} filter=lfs diff=lfs merge=lfs -text\n`).join('');

export const PIPELINE_TAGS: Readonly<Record<HfArchitecture, string>> = {
  HubertModel: 'feature-extraction',
  HubertForCTC: 'automatic-speech-recognition',
  HubertForSequenceClassification: 'audio-classification',
};

/** Tags naming where the weights came from. */
const FAMILY_TAGS: Readonly<Record<SourceKind, readonly string[]>> = {
  'fairseq-hubert': ['fairseq'],
  'fairseq-hubert-ctc': ['fairseq'],
  's3prl-hubert': ['s3prl'],
  distilhubert: ['s3prl', 'distilhubert'],
  'superb-downstream': ['s3prl', 'superb'],
  'contentvec-legacy': ['fairseq', 'contentvec'],
  contentvec: ['fairseq', 'contentvec'],
  'hubert-soft': ['hubert-soft'],
  'hubert-discrete': ['hubert-discrete'],
  'hf-folder': [],
};

const KIND_NAMES: Readonly<Record<SourceKind, string>> = {
  'fairseq-hubert': 'a fairseq HuBERT checkpoint',
  'fairseq-hubert-ctc': 'a fairseq HuBERT checkpoint fine-tuned with CTC',
  's3prl-hubert': 'an s3prl HuBERT checkpoint',
  distilhubert: 'an s3prl DistilHuBERT checkpoint',
  'superb-downstream': 'an s3prl SUPERB downstream checkpoint and its upstream',
  'contentvec-legacy': 'a ContentVec checkpoint in the legacy HuBERT format',
  contentvec: "a ContentVec checkpoint (its speaker-conditioned layers, which inference never runs, were left out)",
  'hubert-soft': 'a bshall/hubert hubert-soft checkpoint',
  'hubert-discrete': 'a bshall/hubert hubert-discrete checkpoint',
  'hf-folder': 'an existing Hugging Face folder',
};

const WHAT: Readonly<Record<HfArchitecture, string>> = {
  HubertModel: 'A HuBERT speech encoder (no head): it turns 16 kHz audio into one vector per 20 ms frame',
  HubertForCTC: 'A HuBERT speech recogniser: a HuBERT encoder with a CTC head over a character vocabulary',
  HubertForSequenceClassification: 'A HuBERT audio classifier: a HuBERT encoder with an utterance-level classification head',
};

export interface CardFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface CardSource {
  /** file name only */
  file: string;
  bytes: number;
  sha256: string;
}

export interface CardAccuracy {
  variant: string;
  file: string;
  accuracy: { maxAbs: number; cosine: number } | null;
}

export interface CardVerification {
  passed: boolean;
  checks: Array<{ name: string; passed: boolean; skipped?: string; summary: string }>;
}

export interface ModelCardInput {
  /** the folder's name, used as the title */
  name: string;
  architecture: HfArchitecture;
  config: HubertConfig;
  kind: SourceKind;
  source: CardSource;
  upstream?: CardSource;
  tool: { name: string; version: string };
  dtype: string;
  /** every file of the folder but the card itself */
  files: readonly CardFile[];
  onnx?: readonly CardAccuracy[];
  verification?: CardVerification;
  warnings: readonly string[];
  removedConfigKeys: ReadonlyArray<{ file: string; key: string }>;
  /** The projection head written beside the model, when the source has one. */
  projection?: { name: string; file: string; shape: readonly number[] };
  /** Zero samples the original inference API pads on each side (bshall's 40). */
  inputPadding?: number;
  /** The layer the original code turns into discrete units (bshall's hubert-discrete: 7). */
  unitLayer?: number;
}

const PROJECTION_USE: Readonly<Record<string, string>> = {
  final_proj: "RVC v1 and so-vits-svc vec256l9 apply ContentVec's final_proj to layer 9's output",
  proj: "hubert-soft's soft units are proj applied to the last layer's output of the 40-sample-padded input",
};

/** What the folder holds or implies beyond transformers' HubertModel: the projection head, padding, unit layer. */
function beyondHubertModel(input: ModelCardInput): string[] {
  const lines: string[] = [];
  const p = input.projection;
  if (p) {
    lines.push(
      `- \`${cell(p.file)}\` holds the projection head \`${cell(p.name)}\` (a Linear ${p.shape[1]} → ${p.shape[0]}: \`${cell(p.name)}.weight\` [${p.shape.join(', ')}], \`${cell(p.name)}.bias\` [${p.shape[0]}]). ` +
        `transformers' HubertModel has no place for it and ignores the file; apply it to the hidden state you use (${PROJECTION_USE[p.name] ?? 'the source model applies it to its last layer'}).`,
    );
  }
  if (input.inputPadding) {
    lines.push(
      `- The original inference code pads ${input.inputPadding} zero samples on each side of the waveform before encoding; HubertModel does not, so pad the input yourself to reproduce its frames (recorded in config.json as \`hubert_convert_input_padding\`).`,
    );
  }
  if (input.unitLayer) {
    lines.push(`- The original code turns layer ${input.unitLayer}'s output (\`hidden_states[${input.unitLayer}]\`) into discrete units with a k-means model kept in a separate file (recorded in config.json as \`hubert_convert_unit_layer\`).`);
  }
  return lines.length > 0 ? ['## Beyond HubertModel', '', ...lines, ''] : [];
}

/** The YAML front matter's fields, in order. */
export function cardMetadata(input: Pick<ModelCardInput, 'architecture' | 'kind' | 'onnx'>): { library_name: string; pipeline_tag: string; tags: string[] } {
  const tags = ['hubert', 'audio', ...FAMILY_TAGS[input.kind], ...(input.onnx && input.onnx.length > 0 ? ['onnx'] : [])];
  return { library_name: 'transformers', pipeline_tag: PIPELINE_TAGS[input.architecture], tags };
}

function size(bytes: number): string {
  if (bytes < 1e3) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

/** Text for a Markdown table cell or inline code: no pipes or backticks from the data can break the layout. */
function cell(text: string): string {
  return text.replace(/[|`\r\n]/g, (c) => (c === '|' ? '\\|' : c === '`' ? "'" : ' '));
}

function usage(architecture: HfArchitecture): string {
  const auto = { HubertModel: 'AutoModel', HubertForCTC: 'AutoModelForCTC', HubertForSequenceClassification: 'AutoModelForAudioClassification' }[architecture];
  const processor = architecture === 'HubertForCTC' ? 'AutoProcessor' : 'AutoFeatureExtractor';
  return [
    '```python',
    `from transformers import ${processor}, ${auto}`,
    '',
    'folder = "path/to/this/folder"  # or the Hub repository you pushed it to',
    `processor = ${processor}.from_pretrained(folder)`,
    `model = ${auto}.from_pretrained(folder)`,
    '```',
  ].join('\n');
}

export function renderModelCard(input: ModelCardInput): string {
  const meta = cardMetadata(input);
  const c = input.config;
  const lines: string[] = [
    '---',
    `library_name: ${meta.library_name}`,
    `pipeline_tag: ${meta.pipeline_tag}`,
    'tags:',
    ...meta.tags.map((t) => `- ${t}`),
    '---',
    '',
    `# ${cell(input.name)}`,
    '',
    `${WHAT[input.architecture]} (\`${input.architecture}\`: ${c.num_hidden_layers} layers, hidden size ${c.hidden_size}, ${c.num_attention_heads} attention heads, ` +
      `${c.do_stable_layer_norm ? 'pre-LN' : 'post-LN'}, ${c.feat_extract_norm}-norm feature extractor). ` +
      `Converted from ${KIND_NAMES[input.kind]} by ${input.tool.name} ${input.tool.version}, without Python or PyTorch.`,
    '',
  ];
  if (input.architecture === 'HubertForSequenceClassification' && c.id2label) {
    lines.push(`Classes (in index order): ${Object.values(c.id2label).map((l) => `\`${cell(l)}\``).join(', ')}.`, '');
  }
  lines.push('## Source', '', '| | file | bytes | sha256 |', '|---|---|---|---|');
  lines.push(`| weights | \`${cell(input.source.file)}\` | ${input.source.bytes || '—'} | ${input.source.sha256 ? `\`${input.source.sha256}\`` : '—'} |`);
  if (input.upstream) lines.push(`| upstream | \`${cell(input.upstream.file)}\` | ${input.upstream.bytes} | \`${input.upstream.sha256}\` |`);
  lines.push(
    '',
    `Every tensor was written ${input.dtype === 'keep' ? 'bit for bit as in the source' : `as the exact IEEE cast of the source to ${input.dtype}`}; ` +
      '`conversion_report.json` records the source name of each tensor, what was dropped and why, and the checksum of every file.',
    '',
    '## Files',
    '',
    'Besides this card and `conversion_report.json`:',
    '',
    '| file | size | sha256 |',
    '|---|---|---|',
    ...input.files.map((f) => `| \`${cell(f.path)}\` | ${size(f.bytes)} | \`${f.sha256}\` |`),
    '',
    ...beyondHubertModel(input),
    '## Parity',
    '',
  );
  const onnx = input.onnx ?? [];
  if (onnx.length > 0) {
    lines.push('ONNX variants against the fp32 graph, on a deterministic speech-like input (1 s at 16 kHz):', '', '| variant | file | max abs difference | cosine |', '|---|---|---|---|');
    for (const o of onnx) {
      lines.push(`| ${cell(o.variant)} | \`${cell(o.file)}\` | ${o.accuracy ? o.accuracy.maxAbs.toExponential(2) : 'not measured'} | ${o.accuracy ? o.accuracy.cosine.toFixed(6) : 'not measured'} |`);
    }
    lines.push('');
  } else {
    lines.push('No ONNX graphs were written.', '');
  }
  if (input.verification) {
    lines.push(`Verification (\`${input.tool.name} verify\`, before the folder was published): **${input.verification.passed ? 'passed' : 'failed'}**.`, '');
    for (const check of input.verification.checks) lines.push(`- ${check.name}: ${check.skipped !== undefined ? '' : check.passed ? 'passed, ' : 'failed, '}${cell(check.summary)}`);
    lines.push('');
  } else {
    lines.push(`Not verified at conversion time; \`${input.tool.name} verify <folder> --source ${cell(input.source.file)}\` checks the weights bit for bit and every ONNX variant against an independent float64 reference.`, '');
  }
  if (input.removedConfigKeys.length > 0 || input.warnings.length > 0) {
    lines.push('## Notes', '');
    for (const r of input.removedConfigKeys) lines.push(`- \`${cell(r.key)}\` was removed from ${r.file}: it is not carried over into a converted folder.`);
    for (const w of input.warnings) lines.push(`- ${cell(w)}`);
    lines.push('');
  }
  lines.push('## Use', '', usage(input.architecture), '');
  return lines.join('\n');
}
