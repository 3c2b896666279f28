import { UnsafeInputError, UsageError } from '../../errors.js';
import { ALLOWED } from './allow-list.js';
import { type GlobalName, badNameReason, normalizeGlobal, resolveName } from './names.js';
import type { GlobalKind, GlobalShim } from './shims.js';

/**
 * The one place a pickle global (GLOBAL, STACK_GLOBAL, INST) is decided. Globals never resolve to code:
 *
 *   1. The name is resolved as Python resolves it (names.ts): Python 2 names mapped, the whole dotted path as the
 *      key; impossible spellings → E_PICKLE_BAD_GLOBAL_NAME.
 *   2. On the allow-list (allow-list.ts) → its shim, which turns calls into data and checks its arguments.
 *   3. Named by the user (`--allow-global`) → an inert record, never interpreted.
 *   4. Anything else → UnsafeInputError E_PICKLE_UNSAFE_GLOBAL, naming the global, the opcode offset and what
 *      loading the file with PyTorch would do with it.
 *
 * The deny rules below do not decide anything the allow-list would accept; they sharpen the message for names
 * known to run code, write files or import by name, and such a name cannot be accepted with --allow-global either.
 * They are applied to the whole dotted path, so ("torch", "hub.load") meets the `torch.hub` rule:
 *   a. DENIED_MODULES: a prefix of the path is the module (`os`, `os.path.join`, `torch.hub.x`); and DANGEROUS_STEPS
 *      anywhere after the first step (`torch.os.system`: real modules re-export `os`/`sys`).
 *   b. CLOSED_MODULES: every name not on the allow-list (`builtins.eval`, `copyreg.add_extension`).
 *   c. DENIED_NAMES / DENIED_NAME_PATTERNS: attribute names that execute, spawn, import, open, load or reach
 *      attributes, in any module (`numpy.load`, `yaml.unsafe_load`, `operator.attrgetter`); DENIED_GLOBALS: single
 *      callables of otherwise ordinary modules (`torch.save`, `numpy.savetxt`, `uuid._get_command_stdout`).
 *   d. Dunder steps (`__globals__`, `__builtins__`, `__import__`, `__reduce__`).
 */

export const DENIED_MODULES: readonly string[] = [
  'os', 'posix', 'nt', 'posixpath', 'ntpath', 'sys', 'subprocess', '_posixsubprocess', 'pty', 'tty', 'signal',
  'importlib', 'imp', 'pkgutil', 'zipimport', 'runpy', 'site', 'code', 'codeop', 'types', 'inspect', 'ctypes', '_ctypes',
  'cffi', 'shutil', 'tempfile', 'glob', 'io', '_io', 'pathlib', 'fileinput', 'socket', 'ssl', 'select', 'selectors',
  'asyncio', 'http', 'urllib', 'urllib2', 'ftplib', 'smtplib', 'telnetlib', 'imaplib', 'poplib', 'nntplib', 'xmlrpc',
  'requests', 'webbrowser', 'multiprocessing', 'threading', '_thread', 'thread', 'concurrent', 'pickle', '_pickle',
  'cPickle', 'dill', 'marshal', 'shelve', 'joblib', 'functools', 'operator', '_operator', 'platform', '_osx_support',
  '_aix_support', 'pdb', 'bdb', 'timeit', 'trace', 'profile', 'cProfile', 'doctest', 'pydoc', 'gc', 'commands', 'popen2',
  'distutils', 'setuptools', 'pkg_resources', 'pip', 'winreg', '_winapi', 'msvcrt', 'logging.config', 'hydra',
  'torch.hub', 'torch._C', 'torch.ops', 'torch._ops', 'torch.classes', 'torch.utils.cpp_extension', 'torch.package',
  'torch.multiprocessing', 'torch.distributed', 'torch.fx', 'torch.jit', 'torch.serialization', 'numpy.lib.npyio',
  'numpy.f2py', 'numpy.distutils', 'numpy.testing',
];

/** Modules where only allow-listed names are accepted, whatever --allow-global says. */
export const CLOSED_MODULES: readonly string[] = ['builtins', 'copyreg', '_codecs', 'codecs'];

export const DENIED_NAMES: ReadonlySet<string> = new Set([
  'eval', 'exec', 'execfile', 'compile', 'getattr', 'setattr', 'delattr', 'globals', 'locals', 'vars', 'open',
  'input', 'raw_input', 'breakpoint', 'help', 'reload', 'apply', 'load', 'loads', 'load_all', 'unsafe_load',
  'full_load', '_load_from_bytes', 'system', 'call', 'check_call', 'check_output', 'run', 'fork', 'kill', 'remove',
  'unlink', 'rmtree', 'rmdir', 'import_module', 'exec_module', 'interact', 'start_new_thread', 'attrgetter',
  'methodcaller', 'itemgetter', 'partial', 'partialmethod', 'reduce', 'instantiate', 'locate',
]);

export const DENIED_NAME_PATTERNS: readonly RegExp[] = [/^exec/, /^spawn/, /^popen/i, /^__\w*__$/];

/** Single callables of ordinary modules that write files, map files or evaluate strings. */
export const DENIED_GLOBALS: ReadonlySet<string> = new Set([
  'torch.save', 'numpy.save', 'numpy.savez', 'numpy.savez_compressed', 'numpy.savetxt', 'numpy.memmap', 'numpy.fromfile',
  'numpy.ndarray.tofile', 'uuid._get_command_stdout', 'fairseq.utils.eval_str_list', 'fairseq.utils.eval_bool',
  'fairseq.utils.import_user_module', 'fairseq.checkpoint_utils.load_checkpoint_to_cpu',
]);

/** Module names refused as any step of the dotted path, not only as its root. */
export const DANGEROUS_STEPS: ReadonlySet<string> = new Set([
  'os', 'posix', 'nt', 'sys', 'subprocess', 'builtins', 'importlib', 'shutil', 'socket', 'ctypes', 'pickle', '_pickle',
  'marshal', 'runpy', 'pty', 'webbrowser', 'multiprocessing',
]);

/** Closed-module names that are data, not code (exception classes, constants). */
const HARMLESS_IN_CLOSED = /^(?:[A-Z]\w*(?:Error|Exception|Warning)|BaseException|NotImplemented|Ellipsis|NoneType)$/;

/** The allow-list as name → shim (tests and callers that only need the shims). */
export const REGISTRY: ReadonlyMap<string, GlobalShim> = new Map([...ALLOWED].map(([name, allowed]) => [name, allowed.shim]));

/**
 * Why `module.name` is known to be dangerous (the deny rule that matched), or null. Allow-listed names are never
 * denied. Only sharpens messages and bars --allow-global; the allow-list decides.
 */
export function denialReason(module: string, name: string): string | null {
  const full = `${module}.${name}`;
  if (ALLOWED.has(full)) return null;
  const steps = full.split('.');
  for (let i = 1; i <= steps.length; i++) {
    const prefix = steps.slice(0, i).join('.');
    if (DENIED_MODULES.includes(prefix)) return `module '${prefix}' runs code, touches files or the network, or imports by name`;
  }
  if (DENIED_GLOBALS.has(full)) return `${full} writes or maps files, or evaluates strings`;
  const root = steps[0]!;
  const rest = steps.slice(1);
  if (CLOSED_MODULES.includes(root) && !(rest.length === 1 && HARMLESS_IN_CLOSED.test(rest[0]!))) return `only the listed names of '${root}' are allowed`;
  for (const step of rest) if (DANGEROUS_STEPS.has(step)) return `it reaches the module '${step}'`;
  for (const step of rest) {
    if (DENIED_NAMES.has(step) || DENIED_NAME_PATTERNS.some((p) => p.test(step))) return `'${step}' runs code, opens or loads files, or reaches attributes in any module`;
  }
  return null;
}

export type GlobalHandling = 'shim' | 'inert' | 'user-allowed';

/** What the user allowed with --allow-global (full dotted names, Python 2 names mapped). */
export interface GlobalPolicy {
  readonly userAllowed: ReadonlySet<string>;
}

export const DEFAULT_POLICY: GlobalPolicy = { userAllowed: new Set() };

/** Check and normalise `--allow-global` names (UsageError E_USAGE_ALLOW_GLOBAL): dotted Python names of a module and an attribute. */
export function globalPolicy(allowGlobals: readonly string[] = []): GlobalPolicy {
  const userAllowed = new Set<string>();
  for (const raw of allowGlobals) {
    const text = String(raw);
    const dot = text.lastIndexOf('.');
    const reason = badNameReason(text) ?? (dot < 0 ? 'it needs a module and a name, e.g. optimizers.MyScheduler' : null);
    if (reason) throw new UsageError('E_USAGE_ALLOW_GLOBAL', `--allow-global ${JSON.stringify(text)} is not a global name (${reason})`);
    const [module, name] = normalizeGlobal(text.slice(0, dot), text.slice(dot + 1));
    userAllowed.add(`${module}.${name}`);
  }
  return { userAllowed };
}

export interface ResolvedGlobal extends GlobalName {
  shim: GlobalShim | null;
  kind: GlobalKind;
  handling: GlobalHandling;
}

/** How a global is used in the pickle, as far as the first pass saw (scan.ts). */
export type GlobalUseKind = 'call' | 'construct' | 'build' | 'value';

/** What `torch.load(weights_only=False)` would do with the global: Python's unpickler imports and then uses it. */
export function whatPyTorchWouldDo(g: GlobalName, rawModule: string, use: GlobalUseKind): string {
  const imported = `import ${rawModule}`;
  switch (use) {
    case 'call': return `${imported} and call ${g.fullName}(...)`;
    case 'construct': return `${imported} and create a ${g.fullName} object (${g.fullName}.__new__)`;
    case 'build': return `${imported} and set attributes on ${g.fullName} itself (BUILD), changing it for the whole program`;
    default: return `${imported} (running its import-time code) and fetch ${g.fullName}`;
  }
}

/**
 * Decide one global. `where` names the opcode for messages; `use` is what the pickle does with it. Throws
 * UnsafeInputError (E_PICKLE_BAD_GLOBAL_NAME, E_PICKLE_UNSAFE_GLOBAL) for anything not allowed.
 */
export function resolveGlobal(rawModule: string, rawName: string, policy: GlobalPolicy, where: string, use: GlobalUseKind = 'value'): ResolvedGlobal {
  const g = resolveName(rawModule, rawName, where);
  const allowed = ALLOWED.get(g.fullName);
  if (allowed) return { ...g, shim: allowed.shim, kind: allowed.kind, handling: allowed.entry.inert ? 'inert' : 'shim' };
  const denied = denialReason(g.module, g.name);
  const would = whatPyTorchWouldDo(g, normalizeGlobal(rawModule, rawName)[0], use);
  if (denied) {
    throw new UnsafeInputError(
      'E_PICKLE_UNSAFE_GLOBAL',
      `${where}: the pickle references ${g.shown}, which could run code: loading this file with PyTorch (torch.load weights_only=False) would ${would} (${denied}); refusing to read it, and --allow-global cannot accept it. Do not load this file with torch.load(weights_only=False)`,
      { global: g.shown },
    );
  }
  if (policy.userAllowed.has(g.fullName)) return { ...g, shim: null, kind: 'user', handling: 'user-allowed' };
  throw new UnsafeInputError(
    'E_PICKLE_UNSAFE_GLOBAL',
    `${where}: the pickle references ${g.shown}, which is not on the allow-list: loading this file with PyTorch (torch.load weights_only=False) would ${would}. Refusing to read it; if you have checked where the file comes from and what ${g.fullName} is, pass --allow-global ${g.fullName} to keep it as an inert record`,
    { global: g.shown },
  );
}
