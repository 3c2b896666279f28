/**
 * The one small engine that applies a rename table. Tables are data (see ./tables): each Hugging Face name with the
 * source names that map to it, plus drop rules with reasons. Every source key is either renamed or dropped by a rule;
 * anything else is reported as unknown, and the caller turns that into an error that lists the keys.
 *
 * Patterns use `{n}` for a non-negative integer (a layer index); the same placeholder in the HF name receives it.
 */

export interface RenameRule {
  /** Hugging Face state-dict name, e.g. `encoder.layers.{n}.attention.q_proj.weight`. */
  readonly hf: string;
  /** Source names that become `hf`. */
  readonly from: readonly string[];
}

export interface DropRule {
  /** Source name pattern; `*` matches any rest of the name. */
  readonly pattern: string;
  readonly reason: string;
}

/**
 * A fused source tensor that becomes several HF tensors, cut along its first dimension into equal parts in `into`
 * order (torch's MultiheadAttention `in_proj_weight` rows are [q; k; v]).
 */
export interface SplitRule {
  readonly from: string;
  readonly into: readonly string[];
}

export interface MappingTable {
  readonly name: string;
  readonly renames: readonly RenameRule[];
  readonly drops: readonly DropRule[];
  readonly splits?: readonly SplitRule[];
}

export interface TableResult {
  /** `part` when the target is one of the equal first-dimension parts of a split source. */
  mapped: Array<{ source: string; target: string; part?: { index: number; of: number } }>;
  dropped: Array<{ source: string; reason: string }>;
  unknown: string[];
}

interface CompiledRename {
  regex: RegExp;
  hf: string;
}

interface CompiledSplit {
  regex: RegExp;
  into: readonly string[];
}

const compiled = new WeakMap<MappingTable, { renames: CompiledRename[]; splits: CompiledSplit[]; drops: Array<{ regex: RegExp; reason: string }> }>();

const layerPattern = (source: string) => new RegExp(`^${escapeRegex(source).replace(/\\\{n\\\}/g, '(\\d+)')}$`);

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compile(table: MappingTable) {
  let c = compiled.get(table);
  if (!c) {
    c = {
      renames: table.renames.flatMap((rule) =>
        rule.from.map((source) => ({
          regex: new RegExp(`^${escapeRegex(source).replace(/\\\{n\\\}/g, '(\\d+)')}$`),
          hf: rule.hf,
        })),
      ),
      splits: (table.splits ?? []).map((rule) => ({ regex: layerPattern(rule.from), into: rule.into })),
      drops: table.drops.map((d) => ({ regex: new RegExp(`^${escapeRegex(d.pattern).replace(/\\\*/g, '.*')}$`), reason: d.reason })),
    };
    compiled.set(table, c);
  }
  return c;
}

/** Renames `keys` by `table`. Rename and split rules win over drop rules; the first matching rule applies. */
export function applyTable(table: MappingTable, keys: Iterable<string>): TableResult {
  const { renames, splits, drops } = compile(table);
  const result: TableResult = { mapped: [], dropped: [], unknown: [] };
  next: for (const key of keys) {
    for (const rule of splits) {
      const m = rule.regex.exec(key);
      if (m) {
        rule.into.forEach((hf, index) => {
          let i = 1;
          result.mapped.push({ source: key, target: hf.replace(/\{n\}/g, () => m[i++]!), part: { index, of: rule.into.length } });
        });
        continue next;
      }
    }
    for (const rule of renames) {
      const m = rule.regex.exec(key);
      if (m) {
        let i = 1;
        result.mapped.push({ source: key, target: rule.hf.replace(/\{n\}/g, () => m[i++]!) });
        continue next;
      }
    }
    for (const rule of drops) {
      if (rule.regex.test(key)) {
        result.dropped.push({ source: key, reason: rule.reason });
        continue next;
      }
    }
    result.unknown.push(key);
  }
  return result;
}

/** `weight` and `bias` rows for one module: the common case in every table. */
export function weightAndBias(hf: string, ...from: string[]): RenameRule[] {
  return ['weight', 'bias'].map((p) => ({ hf: `${hf}.${p}`, from: from.map((f) => `${f}.${p}`) }));
}

/**
 * The source name a table maps to `hf` (the first `from` of the matching rule, with its layer index), or undefined:
 * for messages about a tensor the model needs but the source lacks.
 */
export function sourceNameFor(table: MappingTable, hf: string): string | undefined {
  for (const rule of [...table.renames, ...(table.splits ?? []).flatMap((s) => s.into.map((into) => ({ hf: into, from: [s.from] })))]) {
    const m = new RegExp(`^${escapeRegex(rule.hf).replace(/\\\{n\\\}/g, '(\\d+)')}$`).exec(hf);
    if (!m) continue;
    let i = 1;
    return rule.from[0]!.replace(/\{n\}/g, () => m[i++]!);
  }
  return undefined;
}
