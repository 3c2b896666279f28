import { UnsafeInputError } from '../../errors.js';
import { LIBRARY_SHIMS } from './omegaconf-globals.js';
import { PYTHON_SHIMS } from './python-globals.js';
import type { GlobalShim } from './shims.js';
import { TORCH_SHIMS } from './torch-globals.js';

/**
 * The one place a pickle global (GLOBAL, STACK_GLOBAL, INST) is looked at. Globals never resolve to code:
 *
 *   1. Registered (the documented allow-list, see REGISTRY) → a shim that turns calls into data.
 *   2. Denied (rules below) → UnsafeInputError E_PICKLE_UNSAFE_GLOBAL. These could run code, import, touch the file
 *      system or network, or load another pickle if a real unpickler resolved them. Nothing is ever called here
 *      anyway; refusing them flags the file as hostile.
 *   3. Anything else → an inert PyObject record (or, with `strict`, UnsafeInputError E_PICKLE_NOT_ALLOWED).
 *
 * Deny rules, applied to the dotted path `module.name` split into steps (protocol 4 names may themselves be dotted
 * attribute paths such as `Dictionary.__init__.__globals__`):
 *   a. DENIED_MODULES: the module or any submodule (`os`, `os.path`); and DANGEROUS_STEPS anywhere in the path
 *      (`torch.os.system`, `numpy.sys.modules`: real modules re-export `os`/`sys`, so attribute walks reach them).
 *   b. CLOSED_MODULES: every name is denied except the registered ones (`builtins.eval`, `copyreg.add_extension`).
 *   c. DENIED_NAMES / DENIED_NAME_PATTERNS: names that execute, spawn, import, open, load or reach attributes, in
 *      any module (`numpy.load`, `yaml.unsafe_load`, `torch.hub.load`, `operator.attrgetter`).
 *   d. Dunder steps (`__globals__`, `__builtins__`, `__import__`, `__reduce__`), unless registered.
 */

/** Python 2 module names, mapped as Python 3's unpickler does. */
const PY2_MODULES: Record<string, string> = {
  __builtin__: 'builtins',
  copy_reg: 'copyreg',
  cPickle: 'pickle',
  exceptions: 'builtins',
};

export const DENIED_MODULES: readonly string[] = [
  'os', 'posix', 'nt', 'posixpath', 'ntpath', 'sys', 'subprocess', '_posixsubprocess', 'pty', 'tty', 'signal',
  'importlib', 'imp', 'pkgutil', 'zipimport', 'runpy', 'site', 'code', 'codeop', 'types', 'inspect', 'ctypes', '_ctypes',
  'cffi', 'shutil', 'tempfile', 'glob', 'io', '_io', 'pathlib', 'fileinput', 'socket', 'ssl', 'select', 'selectors',
  'asyncio', 'http', 'urllib', 'urllib2', 'ftplib', 'smtplib', 'telnetlib', 'xmlrpc', 'requests', 'webbrowser',
  'multiprocessing', 'threading', '_thread', 'thread', 'concurrent', 'pickle', '_pickle', 'cPickle', 'dill', 'marshal',
  'shelve', 'joblib', 'functools', 'operator', '_operator', 'platform', 'pdb', 'bdb', 'timeit', 'trace', 'profile',
  'cProfile', 'doctest', 'pydoc', 'gc', 'commands', 'popen2', 'distutils', 'setuptools', 'pkg_resources', 'pip',
  'winreg', '_winapi', 'msvcrt', 'torch.hub', 'torch._C', 'torch.ops', 'torch._ops', 'torch.classes',
  'torch.utils.cpp_extension', 'torch.package', 'torch.multiprocessing', 'torch.distributed', 'numpy.lib.npyio',
  'numpy.f2py', 'numpy.distutils', 'numpy.testing',
];

/** Modules where only registered names are allowed. */
export const CLOSED_MODULES: readonly string[] = ['builtins', 'copyreg', '_codecs', 'codecs'];

export const DENIED_NAMES: ReadonlySet<string> = new Set([
  'eval', 'exec', 'execfile', 'compile', 'getattr', 'setattr', 'delattr', 'globals', 'locals', 'vars', 'open',
  'input', 'raw_input', 'breakpoint', 'help', 'reload', 'apply', 'load', 'loads', 'load_all', 'unsafe_load',
  'full_load', '_load_from_bytes', 'system', 'call', 'check_call', 'check_output', 'run', 'fork', 'kill', 'remove',
  'unlink', 'rmtree', 'rmdir', 'import_module', 'exec_module', 'interact', 'start_new_thread', 'attrgetter',
  'methodcaller', 'itemgetter', 'partial', 'partialmethod', 'reduce',
]);

export const DENIED_NAME_PATTERNS: readonly RegExp[] = [/^exec/, /^spawn/, /^popen/i, /^__\w*__$/];

export type GlobalHandling = 'shim' | 'inert';

export const REGISTRY: ReadonlyMap<string, GlobalShim> = new Map(Object.entries({ ...PYTHON_SHIMS, ...LIBRARY_SHIMS, ...TORCH_SHIMS }));

/** Module names refused as any step of the dotted path, not only as its root. */
export const DANGEROUS_STEPS: ReadonlySet<string> = new Set([
  'os', 'posix', 'nt', 'sys', 'subprocess', 'builtins', 'importlib', 'shutil', 'socket', 'ctypes', 'pickle', '_pickle',
  'marshal', 'runpy', 'pty', 'webbrowser', 'multiprocessing',
]);

/** Python 2 builtin names whose Python 3 twin has another name (Python 3 picklers still write `__builtin__.long`). */
const PY2_NAMES: Record<string, string> = { long: 'int', unicode: 'str', basestring: 'str', xrange: 'range' };

/** Map Python 2 module and builtin names to Python 3 ones, as Python 3's unpickler does (fix_imports). */
export function normalizeGlobal(module: string, name: string): [string, string] {
  const [root = '', ...rest] = module.split('.');
  const mapped = PY2_MODULES[root];
  const module3 = mapped ? [mapped, ...rest].join('.') : module;
  return [module3, module3 === 'builtins' ? (PY2_NAMES[name] ?? name) : name];
}

/** Closed-module names that are data, not code (exception classes, constants): inert, not denied. */
const HARMLESS_IN_CLOSED = /^(?:[A-Z]\w*(?:Error|Exception|Warning)|BaseException|NotImplemented|Ellipsis|NoneType)$/;

/** Why `module.name` is denied (the rule that matched), or null when it is not. Registered names are never denied. */
export function denialReason(module: string, name: string): string | null {
  const full = `${module}.${name}`;
  if (REGISTRY.has(full)) return null;
  const moduleMatch = DENIED_MODULES.find((m) => module === m || module.startsWith(`${m}.`));
  if (moduleMatch) return `module '${moduleMatch}' is denied`;
  if (CLOSED_MODULES.includes(module) && !HARMLESS_IN_CLOSED.test(name)) return `only registered names of '${module}' are allowed`;
  const steps = full.split('.');
  for (const step of steps.slice(1)) {
    if (DANGEROUS_STEPS.has(step)) return `it reaches the denied module '${step}'`;
  }
  for (const step of name.split('.')) {
    if (DENIED_NAMES.has(step)) return `the name '${step}' is denied in every module`;
    if (DENIED_NAME_PATTERNS.some((p) => p.test(step))) return `the name '${step}' is denied in every module`;
  }
  return null;
}

export interface ResolvedGlobal {
  module: string;
  name: string;
  fullName: string;
  shim: GlobalShim | null;
  handling: GlobalHandling;
}

/**
 * Look a global up. `where` names the opcode for messages. Throws UnsafeInputError for denied names, and for
 * unregistered ones when `strict`.
 */
export function resolveGlobal(rawModule: string, rawName: string, strict: boolean, where: string): ResolvedGlobal {
  const [module, name] = normalizeGlobal(rawModule, rawName);
  const fullName = `${module}.${name}`;
  const shown = rawModule === module && rawName === name ? fullName : `${rawModule}.${rawName}`;
  const reason = denialReason(module, name);
  if (reason) {
    throw new UnsafeInputError(
      'E_PICKLE_UNSAFE_GLOBAL',
      `${where}: the pickle references ${shown}, which could run code if loaded with Python's pickle (${reason}); refusing to read it. Do not load this file with torch.load(weights_only=False).`,
      { global: shown },
    );
  }
  const shim = REGISTRY.get(fullName) ?? null;
  if (!shim && strict) {
    throw new UnsafeInputError(
      'E_PICKLE_NOT_ALLOWED',
      `${where}: the pickle references ${shown}, which is not on the allow-list (strict mode); read without --strict to keep it as an inert record`,
      { global: shown },
    );
  }
  return { module, name, fullName, shim, handling: shim ? 'shim' : 'inert' };
}
