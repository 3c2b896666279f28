/**
 * The architecture specs by family, found by config.json's `model_type`. Today one: HuBERT. A new family (wav2vec2,
 * WavLM, data2vec-audio) adds its folder here and one entry below; docs/ARCHITECTURE.md lists the rest it touches.
 */
import type { HfArchitecture, HubertConfig } from '../model.js';
import { HUBERT_FAMILY, type SchemaOptions, TensorSchema, crossFieldViolations, fieldViolations } from './hubert/index.js';
import type { ConfigViolation } from './spec.js';

export interface ArchitectureSpec {
  family: string;
  modelType: string;
  architectures: readonly HfArchitecture[];
  /** Each field's own rule, then the rules between fields. */
  configViolations(config: HubertConfig): ConfigViolation[];
  /** The tensors a model of this config consists of. */
  schema(config: HubertConfig, architecture: HfArchitecture, options?: SchemaOptions): TensorSchema;
}

export const HUBERT_SPEC: ArchitectureSpec = {
  ...HUBERT_FAMILY,
  configViolations(config) {
    const own = fieldViolations(config as unknown as Record<string, unknown>);
    return own.length > 0 ? own : crossFieldViolations(config);
  },
  schema: (config, architecture, options) => new TensorSchema(config, architecture, options),
};

export const SPECS: readonly ArchitectureSpec[] = [HUBERT_SPEC];

/** The spec for a config's model_type (HuBERT when it has none: our HfModel is HuBERT-typed). */
export function specFor(config: { model_type?: unknown }): ArchitectureSpec {
  return SPECS.find((s) => s.modelType === (config.model_type ?? 'hubert')) ?? HUBERT_SPEC;
}
