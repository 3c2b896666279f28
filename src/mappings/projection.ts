import { CorruptInputError } from '../errors.js';
import type { ProjectionHead } from '../model.js';
import { type MappingTable, weightAndBias } from './engine.js';
import { MappedTensors, type SourceStateDict } from './state-dict.js';
import type { MappedTensor } from './types.js';

/**
 * The projection heads some HuBERT-family checkpoints carry beyond transformers' HubertModel, kept beside the model
 * (`<name>.safetensors`) under their source names. Mapped entries name them `<name>.weight` / `<name>.bias`, the
 * names inside that file.
 */
const PROJECTION_TABLES: Readonly<Record<ProjectionHead['name'], MappingTable>> = {
  final_proj: { name: 'final_proj projection head', renames: weightAndBias('final_proj', 'final_proj'), drops: [] },
  proj: { name: 'proj projection head', renames: weightAndBias('proj', 'proj'), drops: [] },
};

/** Does this state-dict key (after any prefix) belong to the head called `name`? */
export function isProjectionKey(key: string, name: ProjectionHead['name']): boolean {
  return key === `${name}.weight` || key === `${name}.bias`;
}

/**
 * The head `name` of `dict`, or undefined when the dict has none. Both its weight [out, hidden] and bias [out] must
 * be there (an nn.Linear); shapes against the model are checked by the validate stage.
 */
export function mapProjection(
  dict: SourceStateDict,
  name: ProjectionHead['name'],
  opts: { stripPrefix?: string } = {},
): { projection: ProjectionHead; mapped: MappedTensor[] } | undefined {
  const strip = opts.stripPrefix ?? '';
  const keys = [...dict.tensors.keys()].filter((k) => k.startsWith(strip) && isProjectionKey(k.slice(strip.length), name));
  if (keys.length === 0) return undefined;
  const head = new MappedTensors();
  head.add(dict, PROJECTION_TABLES[name], { keys, stripPrefix: strip });
  const weight = head.tensors.get(`${name}.weight`);
  const bias = head.tensors.get(`${name}.bias`);
  if (!weight || !bias) {
    const missing = `${dict.path}/${strip}${name}.${weight ? 'bias' : 'weight'}`;
    throw new CorruptInputError('E_MISSING_TENSOR', `the projection head ${name} has ${weight ? 'a weight but no bias' : 'a bias but no weight'} (${missing} is missing); the file is damaged or edited`, { missing: [missing] });
  }
  return { projection: { name, weight, bias }, mapped: head.mapped };
}
