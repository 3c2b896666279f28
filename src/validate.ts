/**
 * The validate stage of a conversion, between mapping and writing: the model is held to its architecture spec
 * (config rules, then every tensor's name, shape and dtype; see architectures/validate.ts), so nothing broken is
 * written, and its tensors are set to count NaN/Inf as they are written (non-finite.ts `watchNonFinite`), so nothing
 * suspicious goes unsaid.
 */
import { validateModel } from './architectures/validate.js';
import type { Conversion } from './mappings/types.js';
import { watchNonFinite } from './non-finite.js';
import { projectionProblems } from './architectures/hubert/projection.js';
import { CorruptInputError } from './errors.js';
import type { TensorData } from './tensor.js';

/**
 * Throws a typed error naming every problem (exit 4); otherwise wraps the model's tensors to count their NaN/Inf as
 * the writer reads them (`conversion.valueScan`; the report's `nonFinite` and one warning each). `where` names the
 * source in messages.
 */
export function validateConversion(conversion: Conversion, where: string): void {
  validateModel(conversion, where);
  const p = conversion.model.projection;
  const head: Array<[string, TensorData]> = p ? [[`${p.name}.weight`, p.weight], [`${p.name}.bias`, p.bias]] : [];
  if (p) {
    const problems = projectionProblems(conversion.model.config, p);
    const [code, list] = problems.shape.length > 0 ? (['E_TENSOR_SHAPE', problems.shape] as const) : (['E_TENSOR_DTYPE', problems.dtype] as const);
    if (list.length > 0) {
      const from = new Map(conversion.mapped.map((m) => [m.target, m.source]));
      throw new CorruptInputError(
        code,
        `${where}: the projection head does not fit the model — ${list.join('; ')} (from ${from.get(`${p.name}.weight`) ?? `${p.name}.weight`}). The file is damaged or edited, so nothing was written`,
        { problems: list },
      );
    }
  }
  const sources = new Map(conversion.mapped.map((m) => [m.target, m.source]));
  const watch = watchNonFinite([...conversion.model.tensors, ...head], (name) => sources.get(name));
  const watched = (name: string): TensorData => watch.tensors.get(name)!;
  conversion.model = {
    ...conversion.model,
    tensors: new Map([...conversion.model.tensors.keys()].map((name) => [name, watched(name)])),
    ...(p ? { projection: { ...p, weight: watched(`${p.name}.weight`), bias: watched(`${p.name}.bias`) } } : {}),
  };
  conversion.valueScan = watch;
}
