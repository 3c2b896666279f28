import type { ByteSource } from '../byte-source.js';
import { DTYPE_SIZE } from '../dtype.js';
import { CorruptInputError, type ErrorCodeOf, UnsupportedModelError } from '../errors.js';
import { TorchStorage } from './lazy-tensor.js';
import type { PickleLimits } from './pickle/limits.js';
import { inert } from './pickle/shims.js';
import { dtypeOfGlobal } from './pickle/torch-globals.js';
import { type GlobalUse, type UnpickleOptions, unpickleAt } from './pickle/unpickler.js';
import { PyGlobal, type PyValue, isPySequence } from './pickle/values.js';
import { type ZipEntry, entryDataOffset, readZipEntries } from './zip.js';

/**
 * torch.save files → Python values with lazy tensors. Two container formats:
 *   zip (torch ≥ 1.6): `<folder>/data.pkl` + one stored record `<folder>/data/<key>` per storage;
 *   legacy: magic, protocol, sys_info, the object pickle, the sorted storage keys, then each storage's raw bytes.
 * Only headers are read here; tensor bytes are read later, on demand, through the ByteSource.
 */

export interface TorchReadContext {
  /** `--allow-global` names (see ReadOptions). */
  allowGlobals: readonly string[];
  limits: PickleLimits;
  globals: Map<string, GlobalUse>;
  warnings: string[];
}

/** Legacy files start with this number, pickled as a 10-byte LONG1. */
export const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

function unpickleOptions(ctx: TorchReadContext, name: string, persistentLoad?: UnpickleOptions['persistentLoad']): UnpickleOptions {
  return { allowGlobals: ctx.allowGlobals, limits: ctx.limits, name, globals: ctx.globals, warnings: ctx.warnings, ...(persistentLoad ? { persistentLoad } : {}) };
}

interface StorageId {
  dtype: TorchStorage['dtype'];
  key: string;
  location: string;
  numel: number;
}

/** `('storage', storage_type, key, location, numel, ...)` → its parts, checked. */
function parseStorageId(pid: PyValue, where: string): StorageId {
  const bad = (why: string): CorruptInputError =>
    new CorruptInputError('E_TORCH_BAD_PERSISTENT_ID', `${where}: persistent id is not a torch storage reference (${why})`);
  if (!isPySequence(pid) || pid.length < 5) throw bad('expected a tuple of at least 5 items');
  const [kind, type, key, location, numel] = pid;
  if (kind !== 'storage') throw bad(`kind ${JSON.stringify(String(kind))}`);
  if (typeof key !== 'string' && typeof key !== 'number') throw bad('the key is not a string');
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw bad('the element count is not a non-negative integer');
  const dtype = dtypeOfGlobal(type ?? null);
  if (dtype === undefined) throw bad(`unknown storage type ${type instanceof PyGlobal ? type.fullName : typeof type}`);
  if (dtype === null) {
    throw new UnsupportedModelError('E_TENSOR_UNSUPPORTED_DTYPE', `${where}: storage type ${(type as PyGlobal).fullName} is not supported (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)`);
  }
  if (!Number.isSafeInteger(numel * DTYPE_SIZE[dtype])) throw bad('the element count is too large');
  return { dtype, key: String(key), location: typeof location === 'string' ? location : 'cpu', numel };
}

function storageSizeError(source: ByteSource, record: string, expected: number, actual: number): CorruptInputError {
  return new CorruptInputError(
    'E_STORAGE_SIZE',
    `${source.name}: storage record '${record}' holds ${actual} bytes but the pickle declares ${expected} (numel × itemsize); the file is corrupt`,
    { file: source.name, record, expected, actual },
  );
}

// ---------------------------------------------------------------------------------------------------------------- zip

export function readTorchZip(source: ByteSource, ctx: TorchReadContext): PyValue {
  const entries = readZipEntries(source);
  const first = entries[0];
  if (!first) throw new CorruptInputError('E_ZIP_EMPTY', `${source.name}: the zip archive is empty; not a torch checkpoint`);
  // like PyTorchStreamReader: the folder is the first entry's prefix (not always "archive")
  const slash = first.name.indexOf('/');
  const folder = slash < 0 ? '' : first.name.slice(0, slash + 1);
  const records = new Map<string, ZipEntry>();
  for (const entry of entries) {
    if (entry.name.startsWith(folder)) records.set(entry.name.slice(folder.length), entry);
    if (entry.flags & 1) throw new CorruptInputError('E_ZIP_ENCRYPTED', `${source.name}: record '${entry.name}' is encrypted`);
  }
  const stored = (name: string): ZipEntry | undefined => {
    const entry = records.get(name);
    if (entry && entry.method !== 0) {
      throw new CorruptInputError(
        'E_ZIP_COMPRESSED',
        `${source.name}: record '${folder}${name}' is compressed (zip method ${entry.method}); torch.save writes stored records, so the archive was re-packed by another tool. Re-save it with torch.save, or re-zip with "zip -0"`,
        { file: source.name, record: folder + name },
      );
    }
    return entry;
  };
  const readText = (name: string): string | undefined => {
    const entry = stored(name);
    if (!entry || entry.size > 4096) return undefined;
    return new TextDecoder().decode(source.read(entryDataOffset(source, entry), entry.size)).trim();
  };

  const byteorder = readText('byteorder');
  if (byteorder === 'big') {
    throw new UnsupportedModelError('E_TORCH_BIG_ENDIAN', `${source.name}: the checkpoint was saved on a big-endian machine; re-save it on a little-endian one`);
  }
  const pklEntry = stored('data.pkl');
  if (!pklEntry) {
    const scripted = records.has('constants.pkl') || [...records.keys()].some((k) => k.startsWith('code/'));
    throw new CorruptInputError(
      scripted ? 'E_TORCH_SCRIPT_ARCHIVE' : 'E_TORCH_NO_DATA_PKL',
      scripted
        ? `${source.name}: this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint; save the model's state_dict() with torch.save instead`
        : `${source.name}: the zip has no '${folder}data.pkl' record; not a torch.save checkpoint`,
      { file: source.name },
    );
  }
  if (pklEntry.size > ctx.limits.maxPickleBytes) {
    throw new CorruptInputError('E_PICKLE_LIMIT', `${source.name}: ${folder}data.pkl has ${pklEntry.size} bytes, over limits.maxPickleBytes=${ctx.limits.maxPickleBytes}`, {
      limit: 'maxPickleBytes',
    });
  }
  const pickle = new Uint8Array(source.read(entryDataOffset(source, pklEntry), pklEntry.size)); // a copy (Buffer.slice would be a view)

  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: PyValue, where: string): PyValue => {
    const id = parseStorageId(pid, where);
    const known = storages.get(id.key);
    if (known && known.dtype !== id.dtype) {
      // torch.load hands out the storage loaded first, so it would read the second use as the first dtype
      // (torch.save refuses to write such a file: "Cannot save multiple tensors or storages that view the same data as different types")
      throw new CorruptInputError(
        'E_TORCH_STORAGE_DTYPE_CONFLICT',
        `${where}: storage record '${folder}data/${id.key}' is used as ${known.dtype} and as ${id.dtype}; torch would read both as ${known.dtype}, so the file is refused (torch.save never writes this; the file was edited or built by another tool)`,
        { record: `${folder}data/${id.key}`, dtypes: [known.dtype, id.dtype] },
      );
    }
    if (known) return known;
    const record = `data/${id.key}`;
    const entry = stored(record);
    if (!entry) {
      throw new CorruptInputError('E_TORCH_MISSING_RECORD', `${where}: storage record '${folder}${record}' is missing from the archive (truncated or corrupt file)`, {
        record: folder + record,
      });
    }
    const storage = new TorchStorage(id.key, id.dtype, id.numel, id.location);
    if (entry.size !== storage.byteLength) throw storageSizeError(source, folder + record, storage.byteLength, entry.size);
    storage.bind(source, entryDataOffset(source, entry));
    storages.set(id.key, storage);
    return storage;
  };
  return unpickleAt(pickle, unpickleOptions(ctx, `${source.name}:${folder}data.pkl`, persistentLoad)).value;
}

// ------------------------------------------------------------------------------------------------------------- legacy

/** Is this the start of a legacy file: a pickle of LEGACY_MAGIC (PROTO n, optional FRAME, LONG1 of 10 bytes)? */
export function looksLikeLegacyTorch(head: Uint8Array): boolean {
  let at = 0;
  if (head[at] === 0x80) at += 2;
  if (head[at] === 0x95) at += 9;
  if (head[at] !== 0x8a || head[at + 1] !== 10) return false;
  let v = 0n;
  for (let i = 9; i >= 0; i--) v = (v << 8n) | BigInt(head[at + 2 + i] ?? 0);
  return v === LEGACY_MAGIC;
}

/**
 * One pickle of a legacy file, read through a window that grows until the pickle fits (the file may be gigabytes;
 * the pickles are small and at the front).
 */
function unpickleFromSource(source: ByteSource, offset: number, ctx: TorchReadContext, what: string, persistentLoad?: UnpickleOptions['persistentLoad']): { value: PyValue; end: number } {
  const remaining = source.size - offset;
  let window = Math.min(remaining, 1 << 20);
  for (;;) {
    const bytes = source.read(offset, window);
    const attempt: TorchReadContext = { ...ctx, globals: new Map(), warnings: [] };
    try {
      const { value, end } = unpickleAt(bytes, unpickleOptions(attempt, `${source.name}:${what} (at file offset ${offset})`, persistentLoad));
      for (const [name, use] of attempt.globals) {
        const known = ctx.globals.get(name);
        if (known) known.count += use.count;
        else ctx.globals.set(name, use);
      }
      ctx.warnings.push(...attempt.warnings);
      return { value, end: offset + end };
    } catch (e) {
      const truncated = e instanceof CorruptInputError && e.code === 'E_PICKLE_TRUNCATED';
      if (!truncated || window >= remaining || window >= ctx.limits.maxPickleBytes) throw e;
      window = Math.min(remaining, window * 4, ctx.limits.maxPickleBytes);
    }
  }
}

export function readTorchLegacy(source: ByteSource, ctx: TorchReadContext): PyValue {
  const bad = (code: ErrorCodeOf<'corrupt'>, message: string): CorruptInputError => new CorruptInputError(code, `${source.name}: ${message}`, { file: source.name });
  const magic = unpickleFromSource(source, 0, ctx, 'magic number');
  if (magic.value !== LEGACY_MAGIC) throw bad('E_TORCH_LEGACY_MAGIC', 'not a legacy torch file (wrong magic number)');
  const protocol = unpickleFromSource(source, magic.end, ctx, 'protocol version');
  if (protocol.value !== LEGACY_PROTOCOL) throw bad('E_TORCH_LEGACY_PROTOCOL', `unsupported legacy protocol version ${String(protocol.value)} (expected ${LEGACY_PROTOCOL})`);
  const sysInfo = unpickleFromSource(source, protocol.end, ctx, 'sys_info');
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    throw new UnsupportedModelError('E_TORCH_BIG_ENDIAN', `${source.name}: the checkpoint was saved on a big-endian machine; re-save it on a little-endian one`);
  }

  const roots = new Map<string, TorchStorage>();
  const persistentLoad = (pid: PyValue, where: string): PyValue => {
    if (isPySequence(pid) && pid[0] === 'module') return inert('persistent_id', [pid]); // source of a pickled nn.Module class
    const id = parseStorageId(pid, where);
    let root = roots.get(id.key);
    if (!root) {
      root = new TorchStorage(id.key, id.dtype, id.numel, id.location);
      roots.set(id.key, root);
    } else if (root.dtype !== id.dtype || root.numel !== id.numel) {
      throw new CorruptInputError('E_TORCH_BAD_PERSISTENT_ID', `${where}: storage '${id.key}' is declared twice with different types or sizes`);
    }
    const view = isPySequence(pid) ? pid[5] : null;
    if (!isPySequence(view)) return root;
    const [viewKey, viewOffset, viewSize] = view;
    if (typeof viewOffset !== 'number' || typeof viewSize !== 'number' || !Number.isSafeInteger(viewOffset) || !Number.isSafeInteger(viewSize) || viewOffset < 0 || viewSize < 0 || viewOffset + viewSize > root.numel) {
      throw new CorruptInputError('E_TENSOR_OUT_OF_BOUNDS', `${where}: storage view '${String(viewKey)}' does not fit in storage '${id.key}'`);
    }
    return new TorchStorage(String(viewKey), root.dtype, viewSize, root.location, { base: root, offset: viewOffset });
  };
  const object = unpickleFromSource(source, sysInfo.end, ctx, 'object pickle', persistentLoad);
  const keyList = unpickleFromSource(source, object.end, ctx, 'storage keys');
  if (!isPySequence(keyList.value) || !keyList.value.every((k) => typeof k === 'string')) {
    throw bad('E_TORCH_LEGACY_KEYS', 'the storage key list is not a list of strings');
  }

  // the raw storages follow, in key-list order, each as int64 numel + numel × itemsize bytes
  let at = keyList.end;
  for (const key of keyList.value as string[]) {
    const storage = roots.get(key);
    if (!storage) throw bad('E_TORCH_LEGACY_KEYS', `storage '${key}' is listed but no tensor uses it, so its element size is unknown`);
    const header = source.read(at, 8);
    const numel = new DataView(header.buffer, header.byteOffset, 8).getBigInt64(0, true);
    if (numel !== BigInt(storage.numel)) throw storageSizeError(source, `storage ${key} at offset ${at}`, storage.byteLength, Number(numel) * DTYPE_SIZE[storage.dtype]);
    if (at + 8 + storage.byteLength > source.size) {
      throw bad('E_TRUNCATED', `storage '${key}' (${storage.byteLength} bytes at offset ${at + 8}) runs past the end of the file (truncated download?)`);
    }
    storage.bind(source, at + 8);
    at += 8 + storage.byteLength;
  }
  for (const key of roots.keys()) {
    if (!roots.get(key)!.isBound) throw bad('E_TORCH_MISSING_RECORD', `storage '${key}' is used by a tensor but missing from the storage list`);
  }
  if (at !== source.size) ctx.warnings.push(`${source.name}: ${source.size - at} unexpected bytes after the last storage were ignored`);
  return object.value;
}
