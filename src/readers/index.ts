import { type ByteSource, BufferSource } from '../byte-source.js';
import { CorruptInputError, FileSystemError, UnsupportedModelError } from '../errors.js';
import { openInputFile } from '../node-files.js';
import { LazyTensor } from './lazy-tensor.js';
import { globalPolicy } from './pickle/globals.js';
import { type PickleLimits, resolveLimits } from './pickle/limits.js';
import { TEXT_PICKLE_START } from './pickle/opcodes.js';
import { type GlobalUse, unpickleAt } from './pickle/unpickler.js';
import { type PyValue, WalkBudget, isPySequence } from './pickle/values.js';
import { type TorchReadContext, looksLikeLegacyTorch, readTorchLegacy, readTorchZip } from './torch.js';

export { LazyTensor, TorchStorage } from './lazy-tensor.js';
export { DEFAULT_LIMITS, type PickleLimits } from './pickle/limits.js';
export { type GlobalUse, type UnpickleOptions, type UnpickleResult, unpickle, unpickleAt } from './pickle/unpickler.js';
export { CLOSED_MODULES, DANGEROUS_STEPS, DENIED_GLOBALS, DENIED_MODULES, DENIED_NAMES, DENIED_NAME_PATTERNS, REGISTRY, denialReason, globalPolicy } from './pickle/globals.js';
export { ALLOW_LIST, ALLOWED, type AllowEntry } from './pickle/allow-list.js';
export { type PlainJson, type PyKey, type PyValue, type WalkLimits, PyGlobal, PyObject, isPyDict, isPySequence, pyAttributes, pyGet, toPlainJson } from './pickle/values.js';
export { type ZipEntry, entryDataOffset, readZipEntries } from './zip.js';

/** A tensor of the checkpoint and where it sits: container keys from the root joined with '/'. */
export interface CheckpointTensor {
  path: string;
  tensor: LazyTensor;
}

export interface Checkpoint {
  file: string;
  format: 'torch-zip' | 'torch-legacy' | 'pickle';
  root: PyValue;
  tensors: CheckpointTensor[];
  /** Every global the pickle(s) named: understood by a shim, allow-listed as inert, or kept inert by --allow-global. */
  globals: GlobalUse[];
  /** The `--allow-global` names this read was given (normalised, sorted), used or not. */
  allowedGlobals: string[];
  warnings: string[];
  /** Closes the file when readCheckpoint opened it (a ByteSource passed in stays open). */
  close(): void;
}

export interface ReadOptions {
  /** Globals outside the allow-list to keep as inert records (`--allow-global module.name`); everything else outside it is refused. */
  allowGlobals?: readonly string[];
  /** Accepted for compatibility and ignored: refusing globals outside the allow-list is now the default. */
  strict?: boolean;
  limits?: Partial<PickleLimits>;
}

const SNIFF_BYTES = 1024;

function openInput(input: string | Uint8Array | ByteSource): { source: ByteSource; owned: boolean } {
  if (input instanceof Uint8Array) return { source: new BufferSource(input), owned: true };
  if (typeof input !== 'string') return { source: input, owned: false };
  try {
    return { source: openInputFile(input, { what: 'checkpoint' }), owned: true };
  } catch (e) {
    if (e instanceof FileSystemError && e.code === 'E_IS_DIRECTORY') {
      throw new FileSystemError('E_IS_DIRECTORY', `${input} is a directory; pass a checkpoint file (.pt/.ckpt)`, { file: input });
    }
    throw e;
  }
}

const ascii = (bytes: Uint8Array): string => new TextDecoder('latin1').decode(bytes);

/** Which reader a file needs, judged from its first bytes; explains the usual wrong inputs. */
function sniff(source: ByteSource): Checkpoint['format'] {
  const name = source.name;
  if (source.size === 0) throw new CorruptInputError('E_EMPTY_FILE', `${name} is empty (0 bytes); the download or copy probably failed`, { file: name });
  const head = source.read(0, Math.min(source.size, SNIFF_BYTES));
  const text = ascii(head);
  if (text.startsWith('PK\x03\x04') || text.startsWith('PK\x05\x06')) return 'torch-zip';
  if (looksLikeLegacyTorch(head)) return 'torch-legacy';
  if (head.byteLength > 262 && text.slice(257, 262) === 'ustar') {
    throw new UnsupportedModelError('E_TORCH_TAR_FORMAT', `${name} is a tar-format torch file (PyTorch < 0.4); load and re-save it with a current PyTorch`, { file: name });
  }
  if (head[0] === 0x80 && head[1]! <= 5) return 'pickle';
  const trimmed = text.replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart().toLowerCase();
  if (trimmed.startsWith('version https://git-lfs')) {
    throw new CorruptInputError('E_GIT_LFS_POINTER', `${name} is a git-lfs pointer file, not the checkpoint itself; run \`git lfs pull\` in the repository to fetch it`, { file: name });
  }
  if (trimmed.startsWith('<!doctype html') || trimmed.startsWith('<html') || (trimmed.startsWith('<') && trimmed.includes('<html'))) {
    throw new CorruptInputError('E_NOT_A_CHECKPOINT', `${name} looks like an HTML page (probably an error page from a failed download), not a checkpoint; download it again`, { file: name });
  }
  if (head.byteLength >= 10 && head[8] === 0x7b) {
    const headerLength = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
    if (headerLength + 8n <= BigInt(source.size)) {
      throw new CorruptInputError(
        'E_ALREADY_SAFETENSORS',
        `${name} is already a safetensors file; hubert-convert reads fairseq/S3PRL checkpoints (.pt/.ckpt). To convert a Hugging Face model, pass its folder`,
        { file: name },
      );
    }
  }
  if (TEXT_PICKLE_START.has(head[0]!) && source.read(source.size - 1, 1)[0] === 0x2e) return 'pickle';
  throw new CorruptInputError('E_NOT_A_CHECKPOINT', `${name} is not a PyTorch checkpoint (neither a torch.save zip, a legacy torch file nor a pickle)`, { file: name });
}

/** Every tensor reachable through dicts, lists and tuples, with its path; each view is checked against its storage. */
function collectTensors(root: PyValue, limits: PickleLimits): CheckpointTensor[] {
  const out: CheckpointTensor[] = [];
  const onPath = new Set<object>();
  const budget = new WalkBudget(limits);
  const path: string[] = [];
  const walk = (value: PyValue): void => {
    if (value instanceof LazyTensor) {
      const joined = path.join('/');
      value.validate(joined);
      out.push({ path: joined, tensor: value });
      return;
    }
    const isContainer = value instanceof Map || isPySequence(value);
    if (!isContainer || onPath.has(value)) return;
    budget.step(path.length, () => `'${path.slice(0, 8).join('/')}/…'`);
    onPath.add(value);
    const entries: Iterable<[PyValue, PyValue]> = value instanceof Map ? value : value.entries();
    for (const [k, v] of entries) {
      path.push(String(k));
      walk(v);
      path.pop();
    }
    onPath.delete(value);
  };
  walk(root);
  return out;
}

function readRawPickle(source: ByteSource, ctx: TorchReadContext): PyValue {
  if (source.size > ctx.limits.maxPickleBytes) {
    throw new CorruptInputError('E_PICKLE_LIMIT', `${source.name}: ${source.size} bytes exceed limits.maxPickleBytes=${ctx.limits.maxPickleBytes}`, { limit: 'maxPickleBytes' });
  }
  const bytes = source.read(0, source.size);
  const { value, end } = unpickleAt(bytes, { allowGlobals: ctx.allowGlobals, limits: ctx.limits, name: source.name, globals: ctx.globals, warnings: ctx.warnings });
  if (end < bytes.byteLength) ctx.warnings.push(`${source.name}: ${bytes.byteLength - end} bytes after the pickle's STOP were ignored`);
  return value;
}

/**
 * Open a checkpoint (torch.save zip, legacy torch file, or raw pickle) and read its object tree and tensor table.
 * Only headers and pickles are read; tensor bytes stay in the file until asked for.
 */
export function readCheckpoint(input: string | Uint8Array | ByteSource, options: ReadOptions = {}): Checkpoint {
  const { source, owned } = openInput(input);
  try {
    const allowGlobals = [...globalPolicy(options.allowGlobals).userAllowed].sort();
    const ctx: TorchReadContext = { allowGlobals, limits: resolveLimits(options.limits), globals: new Map(), warnings: [] };
    const format = sniff(source);
    const root = format === 'torch-zip' ? readTorchZip(source, ctx) : format === 'torch-legacy' ? readTorchLegacy(source, ctx) : readRawPickle(source, ctx);
    const tensors = collectTensors(root, ctx.limits);
    const named = (handling: GlobalUse['handling']): string[] => [...ctx.globals.values()].filter((g) => g.handling === handling).map((g) => g.name);
    const inert = named('inert');
    if (inert.length) ctx.warnings.push(`${source.name}: ${inert.length} foreign object type(s) allow-listed as inert kept as records, never interpreted (${inert.join(', ')})`);
    const userAllowed = named('user-allowed');
    if (userAllowed.length) ctx.warnings.push(`${source.name}: ${userAllowed.length} global(s) outside the allow-list kept as inert records because of --allow-global (${userAllowed.join(', ')})`);
    return {
      file: source.name,
      format,
      root,
      tensors,
      globals: [...ctx.globals.values()],
      allowedGlobals: allowGlobals,
      warnings: ctx.warnings,
      close: () => {
        if (owned) source.close();
      },
    };
  } catch (e) {
    if (owned) source.close();
    throw e;
  }
}
