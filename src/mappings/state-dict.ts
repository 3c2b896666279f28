import { CorruptInputError, UnsupportedModelError } from '../errors.js';
import type { TensorData } from '../tensor.js';
import { type MappingTable, applyTable, sourceNameFor } from './engine.js';
import { firstDimPart } from './tensor-parts.js';
import type { DroppedTensor, MappedTensor } from './types.js';

/** A source state dict: tensors by key, plus where it sits in the checkpoint (for report paths). */
export interface SourceStateDict {
  /** Path of the dict inside the checkpoint, e.g. `model` or `Distiller` ('' for the top level); report paths are `<path>/<key>`. */
  path: string;
  tensors: Map<string, TensorData>;
  /** `upstream:` for tensors that come from the --upstream checkpoint. */
  origin?: string;
}

export function isTensor(value: unknown): value is TensorData {
  return typeof value === 'object' && value !== null && 'dtype' in value && 'shape' in value && 'chunks' in value;
}

/** The tensors of a state dict found at `path` in the checkpoint root, with a clear error if it is not one. */
export function stateDictAt(root: unknown, path: string[], file: string): SourceStateDict {
  let value: unknown = root;
  for (const key of path) value = value instanceof Map ? value.get(key) : undefined;
  const where = path.join('/');
  if (!(value instanceof Map)) {
    throw new CorruptInputError('E_NO_STATE_DICT', `${file}: expected a state dict (a dict of tensors) at "${where || 'the top level'}" but found ${value === undefined ? 'nothing' : typeof value}`);
  }
  const tensors = new Map<string, TensorData>();
  for (const [key, tensor] of value) {
    if (typeof key !== 'string' || !isTensor(tensor)) {
      throw new CorruptInputError('E_NO_STATE_DICT', `${file}: ${where ? `"${where}"` : 'the top level'} should hold only tensors, but "${String(key)}" is ${tensor === null ? 'None' : typeof tensor}`);
    }
    tensors.set(key, tensor);
  }
  return { path: where, tensors };
}

/** The accumulating result of applying tables to one or more state dicts. */
export class MappedTensors {
  readonly tensors = new Map<string, TensorData>();
  readonly mapped: MappedTensor[] = [];
  readonly dropped: DroppedTensor[] = [];
  private readonly applied: Array<{ dict: SourceStateDict; table: MappingTable; targetPrefix: string; strip: string }> = [];

  /** The source name the applied tables give an HF name (whether or not the source has it): for validation messages. */
  readonly sourceNameOf = (target: string): string | undefined => {
    for (const { dict, table, targetPrefix, strip } of this.applied) {
      if (!target.startsWith(targetPrefix)) continue;
      const source = sourceNameFor(table, target.slice(targetPrefix.length));
      if (source !== undefined) return `${dict.origin ?? ''}${dict.path ? `${dict.path}/` : ''}${strip}${source}`;
    }
    return undefined;
  };

  /**
   * Maps `keys` of `dict` (default: all) by `table`, naming targets `targetPrefix + hf`; `stripPrefix` is removed
   * from keys before matching. Unknown keys are an error that lists them all.
   */
  add(dict: SourceStateDict, table: MappingTable, opts: { targetPrefix?: string; stripPrefix?: string; keys?: string[] } = {}): void {
    const strip = opts.stripPrefix ?? '';
    const keys = opts.keys ?? [...dict.tensors.keys()];
    const result = applyTable(table, keys.map((k) => k.slice(strip.length)));
    // a bare state dict (the checkpoint's top level) has no path: its tensors are named by key alone, as the reader names them
    const sourceName = (key: string) => `${dict.origin ?? ''}${dict.path ? `${dict.path}/` : ''}${strip}${key}`;
    this.applied.push({ dict, table, targetPrefix: opts.targetPrefix ?? '', strip });
    if (result.unknown.length > 0) {
      throw new UnsupportedModelError(
        'E_UNKNOWN_KEYS',
        `${result.unknown.length} tensor(s) in "${dict.path}" match no rule of the ${table.name} table: ${result.unknown.map((k) => strip + k).join(', ')}. ` +
          'Either this is a model variant hubert-convert does not know, or --kind picked the wrong source kind.',
        { unknown: result.unknown.map((k) => strip + k) },
      );
    }
    for (const { source, target, part } of result.mapped) {
      const name = `${opts.targetPrefix ?? ''}${target}`;
      if (this.tensors.has(name)) {
        throw new CorruptInputError('E_DUPLICATE_TARGET', `two source tensors map to ${name} (the second is ${sourceName(source)})`);
      }
      const whole = dict.tensors.get(strip + source)!;
      const tensor = part ? firstDimPart(whole, part.index, part.of, sourceName(source)) : whole;
      this.tensors.set(name, tensor);
      const rows: [number, number] | undefined = part ? [part.index * tensor.shape[0]!, (part.index + 1) * tensor.shape[0]!] : undefined;
      this.mapped.push({ source: sourceName(source), target: name, dtype: tensor.dtype, shape: [...tensor.shape], ...(rows ? { rows } : {}) });
    }
    for (const { source, reason } of result.dropped) this.dropped.push({ source: sourceName(source), reason });
  }
}
