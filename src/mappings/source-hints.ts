/**
 * What a checkpoint says about itself, read once for every source entry to judge: the model names it declares
 * (fairseq `cfg.model._name`, old `args.arch`, s3prl `model_cfg._name`, the pretraining `_name` inside a fine-tune's
 * `w2v_args`), the encoder `layer_type`, its top-level keys and the keys of its main state dict.
 */
export interface Declared {
  /** Where the name was found, e.g. `cfg.model._name`. */
  where: string;
  name: string;
}

export interface SourceHints {
  top: ReadonlySet<string>;
  /** Declared model names, outermost first. */
  declared: readonly Declared[];
  /** `layer_type` wherever a model config has one (transformer, conformer, …). */
  layerTypes: readonly Declared[];
  /** Keys of the first state dict found (`model`, `model_weight`, `Distiller`, `Downstream`, `hubert`, or a bare top level of tensors). */
  stateKeys: readonly string[];
  /** A value of that state dict by key. */
  stateAt(key: string): unknown;
  /** Value at a path of Maps, or undefined. */
  at(...path: string[]): unknown;
}

function keysOf(value: unknown): string[] {
  return value instanceof Map ? [...value.keys()].filter((k): k is string => typeof k === 'string') : [];
}

const NAME_PATHS: ReadonlyArray<readonly string[]> = [
  ['cfg', 'model', '_name'],
  ['args', 'arch'],
  ['model_cfg', '_name'],
  ['cfg', 'model', 'w2v_args', 'model', '_name'],
  ['cfg', 'model', 'w2v_args', 'arch'],
];

const LAYER_TYPE_PATHS: ReadonlyArray<readonly string[]> = [
  ['cfg', 'model', 'layer_type'],
  ['args', 'layer_type'],
  ['model_cfg', 'layer_type'],
  ['cfg', 'model', 'w2v_args', 'model', 'layer_type'],
  ['cfg', 'layer_type'],
];

const STATE_DICT_KEYS = ['model', 'model_weight', 'Distiller', 'Downstream', 'hubert'];

const isTensorLike = (v: unknown) => typeof v === 'object' && v !== null && 'dtype' in v && 'shape' in v && 'chunks' in v;

/** A top level that is itself a state dict (torch.save(model.state_dict())): string keys, every value a tensor. */
function isBareStateDict(root: unknown): root is Map<unknown, unknown> {
  if (!(root instanceof Map) || root.size === 0) return false;
  for (const [k, v] of root) if (typeof k !== 'string' || !isTensorLike(v)) return false;
  return true;
}

export function readHints(root: unknown): SourceHints {
  const at = (...path: string[]): unknown => {
    let v: unknown = root;
    for (const key of path) v = v instanceof Map ? v.get(key) : undefined;
    return v;
  };
  const strings = (paths: ReadonlyArray<readonly string[]>): Declared[] =>
    paths.flatMap((p) => {
      const v = at(...p);
      return typeof v === 'string' ? [{ where: p.join('.'), name: v }] : [];
    });
  const dict = STATE_DICT_KEYS.map((k) => at(k)).find((v) => v instanceof Map) ?? (isBareStateDict(root) ? root : undefined);
  const stateAt = (key: string): unknown => (dict instanceof Map ? dict.get(key) : undefined);
  return { top: new Set(keysOf(root)), declared: strings(NAME_PATHS), layerTypes: strings(LAYER_TYPE_PATHS), stateKeys: keysOf(dict), stateAt, at };
}

/** The first declared name among `names`, as evidence text, or undefined. */
export function declaredAs(hints: SourceHints, names: readonly string[], where?: (d: Declared) => boolean): string | undefined {
  const d = hints.declared.find((x) => names.includes(x.name) && (where?.(x) ?? true));
  return d && `${d.where} is "${d.name}"`;
}
