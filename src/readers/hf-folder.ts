import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptInputError, FileSystemError, UnsupportedModelError } from '../errors.js';
import { HUBERT_CONFIG_DEFAULTS } from '../hf-defaults.js';
import type { HfArchitecture, HfModel, HubertConfig, PreprocessorConfig } from '../model.js';
import type { TensorData } from '../tensor.js';
import { type ReadOptions, readCheckpoint } from './index.js';
import { openHfWeightFiles } from './safetensors-index.js';

/** Names torch's new weight-norm parametrization uses in memory (and some saved folders); we write the legacy ones. */
const WEIGHT_NORM_ALIASES: ReadonlyArray<[string, string]> = [
  ['parametrizations.weight.original0', 'weight_g'],
  ['parametrizations.weight.original1', 'weight_v'],
];

const ARCHITECTURES: readonly HfArchitecture[] = ['HubertModel', 'HubertForCTC', 'HubertForSequenceClassification'];

export interface HfFolder {
  dir: string;
  /** config.json exactly as written (checks must see missing or wrong fields, not the defaults filled in). */
  rawConfig: Record<string, unknown>;
  /** `rawConfig` over transformers' defaults: what from_pretrained sees. */
  model: HfModel;
  /** The weight files read, relative to the folder. */
  weightFiles: string[];
  /** Folder tensor name → the name it was stored under (differs for parametrization aliases). */
  storedNames: Map<string, string>;
  warnings: string[];
  close(): void;
}

export function readJsonObject(path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CorruptInputError('E_BAD_JSON', `${path} is not valid JSON (${(error as Error).message}); re-run the conversion to rewrite it`, { file: path });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CorruptInputError('E_BAD_JSON', `${path} must hold a JSON object`, { file: path });
  }
  return value as Record<string, unknown>;
}

function architectureOf(config: Record<string, unknown>, names: Iterable<string>, dir: string): HfArchitecture {
  const declared = Array.isArray(config['architectures']) ? (config['architectures'][0] as string) : undefined;
  if (declared !== undefined) {
    if (!(ARCHITECTURES as readonly string[]).includes(declared)) {
      throw new UnsupportedModelError('E_UNSUPPORTED_MODEL', `${dir}: config.json architectures is ${declared}; supported: ${ARCHITECTURES.join(', ')}`);
    }
    return declared as HfArchitecture;
  }
  const all = [...names];
  if (all.includes('lm_head.weight')) return 'HubertForCTC';
  if (all.includes('classifier.weight')) return 'HubertForSequenceClassification';
  return 'HubertModel';
}

/**
 * Opens an existing Hugging Face HuBERT folder (config.json + model.safetensors, sharded safetensors, or
 * pytorch_model.bin) as an HfModel, with names normalised to what we write: legacy weight-norm names, and no
 * `hubert.` prefix on a bare HubertModel.
 */
export function readHfFolder(dir: string, readOptions: ReadOptions = {}): HfFolder {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new FileSystemError('E_NOT_A_FOLDER', `${dir} is not a folder; pass a Hugging Face model folder (e.g. one written by hubert-convert)`, { dir });
  }
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new FileSystemError('E_NO_CONFIG_JSON', `${dir} has no config.json; is this a Hugging Face model folder?`, { dir });
  const rawConfig = readJsonObject(configPath);
  if (rawConfig['model_type'] !== 'hubert') {
    throw new UnsupportedModelError('E_UNSUPPORTED_MODEL', `${configPath}: model_type is ${JSON.stringify(rawConfig['model_type'])}; hubert-convert handles "hubert" models`);
  }
  const warnings: string[] = [];
  let stored: Map<string, TensorData>;
  let weightFiles: string[];
  let close: () => void;
  const bin = join(dir, 'pytorch_model.bin');
  if (existsSync(join(dir, 'model.safetensors')) || existsSync(join(dir, 'model.safetensors.index.json')) || !existsSync(bin)) {
    const weights = openHfWeightFiles(dir);
    stored = weights.tensors;
    weightFiles = weights.files.map((f) => f.source.name.slice(dir.length + 1));
    close = () => weights.close();
  } else {
    const checkpoint = readCheckpoint(bin, readOptions); // a pickle like any checkpoint: the same allow-list
    stored = new Map(checkpoint.tensors.map((t) => [t.path, t.tensor]));
    weightFiles = ['pytorch_model.bin'];
    close = () => checkpoint.close();
  }

  const architecture = architectureOf(rawConfig, stored.keys(), dir);
  const tensors = new Map<string, TensorData>();
  const storedNames = new Map<string, string>();
  for (const [name, tensor] of stored) {
    let normalised = name;
    for (const [alias, legacy] of WEIGHT_NORM_ALIASES) if (normalised.endsWith(alias)) normalised = normalised.slice(0, -alias.length) + legacy;
    if (architecture === 'HubertModel' && normalised.startsWith('hubert.')) normalised = normalised.slice('hubert.'.length);
    tensors.set(normalised, tensor);
    storedNames.set(normalised, name);
  }

  const convDim = Array.isArray(rawConfig['conv_dim']) ? (rawConfig['conv_dim'] as unknown[]) : HUBERT_CONFIG_DEFAULTS.conv_dim;
  const config = { ...HUBERT_CONFIG_DEFAULTS, num_feat_extract_layers: convDim.length, ...rawConfig, architectures: [architecture] } as HubertConfig;

  const preprocessorPath = join(dir, 'preprocessor_config.json');
  let preprocessor: PreprocessorConfig;
  const derived: PreprocessorConfig = {
    feature_extractor_type: 'Wav2Vec2FeatureExtractor',
    feature_size: 1,
    sampling_rate: 16000,
    padding_value: 0,
    padding_side: 'right',
    do_normalize: true,
    return_attention_mask: config.feat_extract_norm === 'layer',
  };
  if (existsSync(preprocessorPath)) {
    preprocessor = { ...derived, ...readJsonObject(preprocessorPath) } as PreprocessorConfig;
  } else {
    warnings.push(`${dir} has no preprocessor_config.json; assuming do_normalize=true (the Wav2Vec2FeatureExtractor default)`);
    preprocessor = derived;
  }
  return { dir, rawConfig, model: { architecture, config, preprocessor, tensors }, weightFiles, storedNames, warnings, close };
}
