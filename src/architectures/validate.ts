/**
 * The validation stage: a mapped model (from any source) held to its architecture spec before a byte is written.
 * The config's own rules first (an absurd config is named field by field and no schema is sized from it), then the
 * tensors against the schema that config implies. Every offending name is listed, with the source name it came from.
 */
import { CorruptInputError } from '../errors.js';
import type { HfModel } from '../model.js';
import { describeViolation } from './hubert/config.js';
import { type TensorSchema, kindInWords } from './hubert/tensors.js';
import { specFor } from './index.js';
import type { ConfigViolation, SchemaMatch } from './spec.js';

export interface ValidationSubject {
  model: HfModel;
  /** Source name of each HF tensor, for messages (`model/encoder.layers.1.fc2.weight`). */
  mapped?: ReadonlyArray<{ source: string; target: string }>;
  /** Source name a missing HF tensor would have had, when the mapping can say. */
  sourceNameOf?: (target: string) => string | undefined;
}

/** The config's violations: each field's rule, then (when the fields are sound) the rules between fields. */
export function configViolations(config: HfModel['config']): ConfigViolation[] {
  return specFor(config).configViolations(config);
}

const CATEGORIES = [
  ['missing', 'E_MISSING_TENSOR', 'missing'],
  ['unexpected', 'E_UNEXPECTED_TENSOR', 'not part of this model'],
  ['wrongShape', 'E_TENSOR_SHAPE', 'with the wrong shape'],
  ['wrongDtype', 'E_TENSOR_DTYPE', 'with the wrong dtype'],
] as const;

function limitList(items: string[], max = 20): string {
  return items.slice(0, max).join('; ') + (items.length > max ? `; … (${items.length} in all)` : '');
}

/** Throws E_CONFIG_INVALID, or the code of the first kind of tensor problem, with every offender listed; else the schema. */
export function validateModel(subject: ValidationSubject, where: string): TensorSchema {
  const { model } = subject;
  const violations = configViolations(model.config);
  if (violations.length > 0) {
    throw new CorruptInputError(
      'E_CONFIG_INVALID',
      `${where}: the model config breaks ${violations.length} rule(s): ${violations.map(describeViolation).join('; ')}. Fix config.json (or the checkpoint's config) and convert again`,
      { violations },
    );
  }
  const schema = specFor(model.config).schema(model.config, model.architecture);
  const match = schema.match([...model.tensors].map(([name, t]) => [name, { shape: t.shape, dtype: t.dtype }]));
  const sources = new Map((subject.mapped ?? []).map((m) => [m.target, m.source]));
  const named = (hf: string) => {
    const source = sources.get(hf) ?? subject.sourceNameOf?.(hf);
    return source && source !== hf ? `${hf} (from ${source})` : hf;
  };
  const describe: { [K in keyof SchemaMatch]: (m: SchemaMatch[K][number]) => string } = {
    missing: (e) => `${named(schema.fullName(e))} [${e.shape.join(', ')}]`,
    unexpected: (t) => `${named(t.name)} [${t.shape.join(', ')}]`,
    wrongShape: (t) => `${named(t.name)} is [${t.shape.join(', ')}], the config implies [${t.expected.shape.join(', ')}]`,
    wrongDtype: (t) => `${named(t.name)} is ${t.dtype}, needs ${kindInWords(t.expected.kind)}`,
  };
  const found = CATEGORIES.filter(([key]) => match[key].length > 0);
  if (found.length === 0) return schema;
  const parts = found.map(([key, , words]) => `${match[key].length} tensor(s) ${words}: ${limitList((match[key] as Array<never>).map((m) => describe[key](m)))}`);
  const names: Record<keyof SchemaMatch, string[]> = {
    missing: match.missing.map((e) => schema.fullName(e)),
    unexpected: match.unexpected.map((t) => t.name),
    wrongShape: match.wrongShape.map((t) => t.name),
    wrongDtype: match.wrongDtype.map((t) => t.name),
  };
  throw new CorruptInputError(
    found[0]![1],
    `${where}: the weights do not match the ${model.architecture} its config describes — ${parts.join('. ')}. The file is damaged or edited; transformers would load it with random or refused weights, so nothing was written`,
    { ...names, sources: Object.fromEntries(Object.values(names).flat().map((n) => [n, sources.get(n) ?? subject.sourceNameOf?.(n) ?? null])) },
  );
}
