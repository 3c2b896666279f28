/**
 * The validate stage of a conversion, between mapping and writing: the model is held to its architecture spec
 * (config rules, then every tensor's name, shape and dtype; see architectures/validate.ts) and its values are
 * scanned for NaN/Inf (bounded, as `inspect` scans), so nothing broken is written and nothing suspicious unsaid.
 */
import { validateModel } from './architectures/validate.js';
import type { Conversion } from './mappings/types.js';
import { DEFAULT_SCAN_LIMIT_BYTES, describeNonFinite, scanNonFinite } from './non-finite.js';
import { projectionProblems } from './architectures/hubert/projection.js';
import { CorruptInputError } from './errors.js';
import type { TensorData } from './tensor.js';

export interface ValidateOptions {
  /** Scan values when the tensors hold at most this many bytes (default 1 GiB; 0 never, Infinity always). */
  scanLimitBytes?: number;
}

/**
 * Throws a typed error naming every problem (exit 4); otherwise records non-finite tensors on the conversion
 * (`nonFinite`, and one warning each). `where` names the source in messages.
 */
export function validateConversion(conversion: Conversion, where: string, options: ValidateOptions = {}): void {
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
  const bytes = [...conversion.model.tensors.values(), ...head.map(([, t]) => t)].reduce((sum, t) => sum + t.byteLength, 0);
  const limit = options.scanLimitBytes ?? DEFAULT_SCAN_LIMIT_BYTES;
  if (bytes > limit) {
    conversion.warnings.push(`values not scanned for NaN/Inf (${bytes} bytes of tensors, above the ${limit}-byte scan limit); run inspect --scan on the source to check`);
    return;
  }
  const sources = new Map(conversion.mapped.map((m) => [m.target, m.source]));
  conversion.nonFinite = scanNonFinite([...conversion.model.tensors, ...head], (name) => sources.get(name));
  for (const n of conversion.nonFinite) conversion.warnings.push(describeNonFinite(n));
}
