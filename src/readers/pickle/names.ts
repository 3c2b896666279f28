import { UnsafeInputError } from '../../errors.js';

/**
 * Pickle global names, resolved the way Python resolves them before the allow-list decides.
 *
 * `find_class(module, name)` imports `module` and then walks `name` as a dotted attribute path (protocol 4), so
 * ("torch", "hub.download_url_to_file") and ("torch.hub", "download_url_to_file") reach the same object. The
 * allow-list is therefore keyed by the whole dotted path `module.name`, however the pickle splits it. Python 2
 * names are mapped first, as Python 3's unpickler does (fix_imports).
 */

/** Python 2 module names, mapped as Python 3's unpickler does. */
const PY2_MODULES: Record<string, string> = {
  __builtin__: 'builtins',
  copy_reg: 'copyreg',
  cPickle: 'pickle',
  exceptions: 'builtins',
};

/** Python 2 builtin names whose Python 3 twin has another name (Python 3 picklers still write `__builtin__.long`). */
const PY2_NAMES: Record<string, string> = { long: 'int', unicode: 'str', basestring: 'str', xrange: 'range' };

/** Map Python 2 module and builtin names to Python 3 ones, as Python 3's unpickler does (fix_imports). */
export function normalizeGlobal(module: string, name: string): [string, string] {
  const [root = '', ...rest] = module.split('.');
  const mapped = PY2_MODULES[root];
  const module3 = mapped ? [mapped, ...rest].join('.') : module;
  return [module3, module3 === 'builtins' ? (PY2_NAMES[name] ?? name) : name];
}

/** One step of a dotted path: a Python identifier (letters, digits, underscore; Unicode letters allowed, as in Python 3). */
const IDENTIFIER = /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u;

/** Why `dotted` cannot be a Python global (whitespace, control characters, empty steps, ...), or null when it can. */
export function badNameReason(dotted: string): string | null {
  if (dotted.length === 0) return 'the name is empty';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(dotted)) return 'it contains control characters';
  if (/\s/u.test(dotted)) return 'it contains whitespace';
  const steps = dotted.split('.');
  if (steps.some((s) => s.length === 0)) return 'it has an empty step (a leading, trailing or doubled dot)';
  const odd = steps.find((s) => !IDENTIFIER.test(s));
  if (odd !== undefined) return `'${odd}' is not a Python identifier`;
  return null;
}

export interface GlobalName {
  /** After Python 2 mapping. */
  module: string;
  name: string;
  /** `module.name`: the key the allow-list decides on. */
  fullName: string;
  /** How the pickle spelled it, for messages (equal to fullName unless Python 2 names were mapped). */
  shown: string;
}

/**
 * Normalise and check a global's name. Impossible spellings are refused (UnsafeInputError E_PICKLE_BAD_GLOBAL_NAME,
 * exit 3): no Python module or attribute has them, so only a hand-made pickle does.
 */
export function resolveName(rawModule: string, rawName: string, where: string): GlobalName {
  const [module, name] = normalizeGlobal(rawModule, rawName);
  const raw = `${rawModule}.${rawName}`;
  const reason = (rawModule.length === 0 ? 'the module is empty' : null) ?? (rawName.length === 0 ? 'the attribute name is empty' : null) ?? badNameReason(raw);
  if (reason) {
    throw new UnsafeInputError(
      'E_PICKLE_BAD_GLOBAL_NAME',
      `${where}: the pickle references the global ${JSON.stringify(raw)}, which no Python module can hold (${reason}); a hand-made pickle, refusing to read it`,
      { global: raw },
    );
  }
  const fullName = `${module}.${name}`;
  return { module, name, fullName, shown: module === rawModule && name === rawName ? fullName : raw };
}
