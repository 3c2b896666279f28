/**
 * The folder under verification, read as it is on disk: config.json exactly as written (the config check must see
 * missing or wrong fields, not defaults filled in), the safetensors tensors under their stored names, and the optional
 * preprocessor_config.json and conversion_report.json.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptInputError, FileSystemError, UnsupportedModelError } from '../errors.js';
import { HUBERT_CONFIG_DEFAULTS } from '../hf-defaults.js';
import type { HfArchitecture, HfModel, HubertConfig, PreprocessorConfig } from '../model.js';
import { openHfWeightFiles } from '../readers/safetensors-index.js';

export const ARCHITECTURES: readonly HfArchitecture[] = ['HubertModel', 'HubertForCTC', 'HubertForSequenceClassification'];

export interface VerifiedFolder {
  dir: string;
  /** config.json as parsed, untouched */
  rawConfig: Record<string, unknown>;
  /** HfModel over the stored tensors; `config` is rawConfig over transformers' defaults (what from_pretrained sees) */
  model: HfModel;
  /** weight files, relative to dir */
  weightFiles: string[];
  conversionReport: Record<string, unknown> | null;
  close(): void;
}

function readJsonObject(path: string, code: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CorruptInputError(code, `${path} is not valid JSON (${(error as Error).message}); re-run the conversion to rewrite it`, { file: path });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CorruptInputError(code, `${path} must hold a JSON object`, { file: path });
  }
  return value as Record<string, unknown>;
}

export function openFolder(dir: string): VerifiedFolder {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new FileSystemError('E_VERIFY_NO_FOLDER', `${dir} is not a folder; pass the Hugging Face folder written by hubert-convert`, { dir });
  }
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new FileSystemError('E_VERIFY_NO_CONFIG', `${dir} has no config.json; is this a Hugging Face model folder?`, { dir });
  const rawConfig = readJsonObject(configPath, 'E_VERIFY_CONFIG_JSON');
  if (rawConfig['model_type'] !== 'hubert') {
    throw new UnsupportedModelError('E_VERIFY_MODEL_TYPE', `${configPath}: model_type is ${JSON.stringify(rawConfig['model_type'])}; only "hubert" folders can be verified`, { file: configPath });
  }
  const archs = rawConfig['architectures'];
  const architecture = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : 'HubertModel';
  if (!(ARCHITECTURES as readonly string[]).includes(architecture)) {
    throw new UnsupportedModelError('E_VERIFY_ARCHITECTURE', `${configPath}: architectures[0] is "${architecture}"; supported: ${ARCHITECTURES.join(', ')}`, { file: configPath });
  }
  const preprocessorPath = join(dir, 'preprocessor_config.json');
  const preprocessor = (existsSync(preprocessorPath) ? readJsonObject(preprocessorPath, 'E_VERIFY_PREPROCESSOR_JSON') : {}) as unknown as PreprocessorConfig;
  const reportPath = join(dir, 'conversion_report.json');
  const conversionReport = existsSync(reportPath) ? readJsonObject(reportPath, 'E_VERIFY_REPORT_JSON') : null;
  const weights = openHfWeightFiles(dir);
  const conv = Array.isArray(rawConfig['conv_dim']) ? (rawConfig['conv_dim'] as unknown[]) : HUBERT_CONFIG_DEFAULTS.conv_dim;
  const config = { ...HUBERT_CONFIG_DEFAULTS, num_feat_extract_layers: conv.length, ...rawConfig, architectures: [architecture] } as HubertConfig;
  return {
    dir,
    rawConfig,
    model: { architecture: architecture as HfArchitecture, config, preprocessor, tensors: weights.tensors },
    weightFiles: weights.files.map((f) => f.source.name.slice(dir.length).replace(/^[\\/]+/, '')),
    conversionReport,
    close: () => weights.close(),
  };
}
