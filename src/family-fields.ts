/**
 * How a folder carries the HfModel fields transformers' HuBERT has no place for (see ProjectionHead, inputPadding,
 * unitLayer in model.ts), so that reading a folder we wrote gives back the model we wrote:
 * - the projection head is its own file, `<name>.safetensors` with `<name>.weight` and `<name>.bias`;
 * - the facts of the original inference API are config.json keys (transformers keeps unknown config keys as
 *   attributes and saves them again, so they survive a round trip through from_pretrained/save_pretrained).
 */
import type { HfModel, ProjectionHead } from './model.js';

export const PROJECTION_NAMES: readonly ProjectionHead['name'][] = ['final_proj', 'proj'];

export function projectionFile(name: ProjectionHead['name']): string {
  return `${name}.safetensors`;
}

/** config.json key of each family fact, and the HfModel field it holds. */
export const FAMILY_CONFIG_KEYS = {
  inputPadding: 'hubert_convert_input_padding',
  unitLayer: 'hubert_convert_unit_layer',
} as const satisfies Record<string, string>;

type FamilyField = keyof typeof FAMILY_CONFIG_KEYS;

/** The config.json keys for a model's family facts (none for a plain HuBERT). */
export function familyConfigKeys(model: Pick<HfModel, FamilyField>): Record<string, number> {
  const keys: Record<string, number> = {};
  for (const field of Object.keys(FAMILY_CONFIG_KEYS) as FamilyField[]) {
    const value = model[field];
    if (value !== undefined) keys[FAMILY_CONFIG_KEYS[field]] = value;
  }
  return keys;
}

/**
 * The family facts of a config.json, and the config without their keys; a key whose value is not a non-negative
 * integer is a problem (named), not a fact.
 */
export function familyFieldsOf(config: Record<string, unknown>): { fields: Partial<Pick<HfModel, FamilyField>>; rest: Record<string, unknown>; problems: string[] } {
  const rest = { ...config };
  const fields: Partial<Pick<HfModel, FamilyField>> = {};
  const problems: string[] = [];
  for (const field of Object.keys(FAMILY_CONFIG_KEYS) as FamilyField[]) {
    const key = FAMILY_CONFIG_KEYS[field];
    if (!(key in rest)) continue;
    const value = rest[key];
    delete rest[key];
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) fields[field] = value;
    else problems.push(`${key} = ${JSON.stringify(value)} is not a non-negative integer`);
  }
  return { fields, rest, problems };
}
