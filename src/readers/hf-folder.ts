import { join } from 'node:path';
import { CorruptInputError, FileSystemError, UnsupportedModelError } from '../errors.js';
import { HUBERT_BASE_PREFIX, HUBERT_FAMILY, hubertPreprocessor, legacyWeightNormName, withHubertDefaults } from '../architectures/hubert/index.js';
import type { HfArchitecture, HfModel, HubertConfig, PreprocessorConfig } from '../model.js';
import { NodeFolder, isDirectory, pathExists, readInputBytes } from '../node-files.js';
import type { TensorData } from '../tensor.js';
import { type GlobalUse, type ReadOptions, readCheckpoint } from './index.js';
import { decodeUtf8, parseBoundedJson } from './json-bounded.js';
import { type HfWeights, type SafetensorsIndex, openHfWeightFilesIn, readSafetensorsIndexIn } from './safetensors-index.js';
import { type SafetensorsTensor, parseSafetensors } from './safetensors.js';
import { PROJECTION_NAMES, familyFieldsOf, projectionFile } from '../family-fields.js';
import type { ProjectionHead } from '../model.js';

/** config.json, preprocessor_config.json, conversion_report.json: small files; anything bigger is not one of them. */
export const MAX_SMALL_JSON_BYTES = 16 << 20;
/** Deep enough for any of those files (they nest 2–4 levels). */
const MAX_SMALL_JSON_DEPTH = 32;

/** The tensors of a HF folder on disk, lazily backed by their files (see openHfWeightFiles to close them). */
export function openHfWeights(dir: string): Map<string, SafetensorsTensor> {
  return openHfWeightFiles(dir).tensors;
}

/** openHfWeights with the opened files and a close(). */
export function openHfWeightFiles(dir: string): HfWeights {
  return openHfWeightFilesIn(new NodeFolder(dir));
}

/** `<dir>/model.safetensors.index.json`, validated; null when there is none. */
export function readSafetensorsIndex(dir: string): SafetensorsIndex | null {
  return readSafetensorsIndexIn(new NodeFolder(dir));
}

const ARCHITECTURES = HUBERT_FAMILY.architectures;

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
  /** The pickle globals of a pytorch_model.bin and the `--allow-global` names it was read with ([] for safetensors). */
  globals: GlobalUse[];
  allowedGlobals: string[];
  close(): void;
}

/** A small JSON file of a folder (regular file, size and depth bounded); its top level must be an object. */
export function readJsonObject(path: string): Record<string, unknown> {
  const text = decodeUtf8(readInputBytes(path, MAX_SMALL_JSON_BYTES, { what: 'JSON file' }));
  const parsed = text === null ? ({ ok: false, reason: 'not UTF-8' } as const) : parseBoundedJson(text, { maxChars: MAX_SMALL_JSON_BYTES, maxDepth: MAX_SMALL_JSON_DEPTH });
  if (!parsed.ok) {
    throw new CorruptInputError('E_BAD_JSON', `${path} is not valid JSON (${parsed.reason}); re-run the conversion to rewrite it`, { file: path });
  }
  const value = parsed.value;
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
  if (!isDirectory(dir)) {
    throw new FileSystemError('E_NOT_A_FOLDER', `${dir} is not a folder; pass a Hugging Face model folder (e.g. one written by hubert-convert)`, { dir });
  }
  const configPath = join(dir, 'config.json');
  if (!pathExists(configPath)) throw new FileSystemError('E_NO_CONFIG_JSON', `${dir} has no config.json; is this a Hugging Face model folder?`, { dir });
  const rawConfig = readJsonObject(configPath);
  if (rawConfig['model_type'] !== HUBERT_FAMILY.modelType) {
    throw new UnsupportedModelError('E_UNSUPPORTED_MODEL', `${configPath}: model_type is ${JSON.stringify(rawConfig['model_type'])}; hubert-convert handles "hubert" models`);
  }
  const warnings: string[] = [];
  let stored: Map<string, TensorData>;
  let weightFiles: string[];
  let close: () => void;
  let globals: GlobalUse[] = [];
  let allowedGlobals: string[] = [];
  const bin = join(dir, 'pytorch_model.bin');
  if (pathExists(join(dir, 'model.safetensors')) || pathExists(join(dir, 'model.safetensors.index.json')) || !pathExists(bin)) {
    const weights = openHfWeightFiles(dir);
    stored = weights.tensors;
    weightFiles = weights.files.map((f) => f.source.name.slice(dir.length + 1));
    close = () => weights.close();
  } else {
    const checkpoint = readCheckpoint(bin, readOptions); // a pickle like any checkpoint: the same allow-list
    stored = new Map(checkpoint.tensors.map((t) => [t.path, t.tensor]));
    weightFiles = ['pytorch_model.bin'];
    globals = checkpoint.globals;
    allowedGlobals = checkpoint.allowedGlobals;
    close = () => checkpoint.close();
  }

  const architecture = architectureOf(rawConfig, stored.keys(), dir);
  const tensors = new Map<string, TensorData>();
  const storedNames = new Map<string, string>();
  for (const [name, tensor] of stored) {
    // names as we write them: legacy weight-norm names, no base prefix on a bare HubertModel
    let normalised = legacyWeightNormName(name);
    if (architecture === 'HubertModel' && normalised.startsWith(HUBERT_BASE_PREFIX)) normalised = normalised.slice(HUBERT_BASE_PREFIX.length);
    tensors.set(normalised, tensor);
    storedNames.set(normalised, name);
  }

  const family = familyFieldsOf(rawConfig);
  if (family.problems.length > 0) {
    close();
    throw new CorruptInputError('E_CONFIG_INVALID', `${configPath}: ${family.problems.join('; ')}; re-run the conversion to rewrite it`, { problems: family.problems });
  }
  const config = { ...withHubertDefaults(family.rest), architectures: [architecture] } as HubertConfig;
  let projection: ProjectionHead | undefined;
  try {
    const head = readProjection(dir);
    if (head) {
      projection = head.projection;
      weightFiles.push(head.file);
      const closeModel = close;
      close = () => {
        closeModel();
        head.close();
      };
    }
  } catch (error) {
    close();
    throw error;
  }

  const preprocessorPath = join(dir, 'preprocessor_config.json');
  let preprocessor: PreprocessorConfig;
  const derived = hubertPreprocessor(config, true); // Wav2Vec2FeatureExtractor's own default do_normalize
  if (pathExists(preprocessorPath)) {
    preprocessor = { ...derived, ...readJsonObject(preprocessorPath) } as PreprocessorConfig;
  } else {
    warnings.push(`${dir} has no preprocessor_config.json; assuming do_normalize=true (the Wav2Vec2FeatureExtractor default)`);
    preprocessor = derived;
  }
  const model: HfModel = { architecture, config, preprocessor, tensors, ...(projection ? { projection } : {}), ...family.fields };
  return { dir, rawConfig, model, weightFiles, storedNames, warnings, globals, allowedGlobals, close };
}

/**
 * The projection head written beside the model (`final_proj.safetensors` or `proj.safetensors`, see
 * ../family-fields.ts), or null. It must hold exactly its weight and bias; two heads in one folder are ambiguous.
 */
function readProjection(dir: string): { projection: ProjectionHead; file: string; close: () => void } | null {
  const present = PROJECTION_NAMES.filter((name) => pathExists(join(dir, projectionFile(name))));
  if (present.length === 0) return null;
  if (present.length > 1) {
    throw new CorruptInputError('E_PROJECTION_FILE', `${dir} has ${present.map(projectionFile).join(' and ')}; a folder holds one projection head. Remove the one that does not belong to this model`, { dir });
  }
  const name = present[0]!;
  const file = projectionFile(name);
  const parsed = parseSafetensors(new NodeFolder(dir).open(file), { owned: true });
  const weight = parsed.tensors.get(`${name}.weight`);
  const bias = parsed.tensors.get(`${name}.bias`);
  const others = [...parsed.tensors.keys()].filter((k) => k !== `${name}.weight` && k !== `${name}.bias`);
  if (!weight || !bias || others.length > 0) {
    parsed.close();
    throw new CorruptInputError(
      'E_PROJECTION_FILE',
      `${join(dir, file)} must hold exactly ${name}.weight and ${name}.bias (it holds ${[...parsed.tensors.keys()].join(', ') || 'no tensors'}); re-run the conversion to rewrite it`,
      { file: join(dir, file) },
    );
  }
  return { projection: { name, weight, bias }, file, close: () => parsed.close() };
}
