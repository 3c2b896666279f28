/**
 * A validating safetensors reader: `[u64 LE N][N bytes UTF-8 JSON header][data]`.
 *
 * The header is checked completely before any tensor is handed out (see ../../../shared/docs/dependencies.md): size
 * limits before allocation, fatal UTF-8, no duplicate JSON keys, string→string `__metadata__`, known dtypes, shapes of
 * safe non-negative integers, `end - begin == numel × itemsize`, and tensors that tile the data area exactly (no
 * overlap, no hole, no trailing bytes). Tensors are lazy: their bytes are read on demand through the ByteSource.
 */
import { BufferSource, type ByteSource } from '../byte-source.js';
import { DTYPE_SIZE, type DType } from '../dtype.js';
import { CorruptInputError, type ErrorCodeOf, UnsupportedModelError } from '../errors.js';
import { DEFAULT_CHUNK_BYTES, type TensorData } from '../tensor.js';
import { decodeUtf8, isPlainObject, parseBoundedJson } from './json-bounded.js';

/** The reference implementation refuses headers above 100 MB; so do we, before allocating anything. */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;
/**
 * Tensors one file may declare. A HuBERT X-Large has about 800; the largest public checkpoints have under 100,000 per
 * file. The cap holds before the header is parsed, so 700,000 empty entries cost a scan of the text, not gigabytes.
 */
export const MAX_SAFETENSORS_ENTRIES = 100_000;
/** A header is an object of entries holding a shape list: depth 3 (4 leaves room for nothing else). */
const MAX_HEADER_DEPTH = 4;

/** Every dtype name the safetensors format defines (current reference implementation). */
export const SAFETENSORS_DTYPE_NAMES: ReadonlySet<string> = new Set([
  'BOOL', 'F4', 'F6_E2M3', 'F6_E3M2', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0',
  'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'C64', 'F64', 'I64', 'U64',
]);

export interface SafetensorsFile {
  /** In data-offset order (the order the tensors lie in the file). */
  readonly tensors: Map<string, SafetensorsTensor>;
  readonly metadata: Record<string, string> | null;
  /** N, the header length field (includes the padding). */
  readonly headerBytes: number;
  /** Absolute file offset of the data area: 8 + N. */
  readonly dataStart: number;
  readonly source: ByteSource;
  /** Closes the source if readSafetensors opened it (path input); a caller-provided source stays open. */
  close(): void;
}

/** A tensor of a safetensors file; its bytes stay in the file until asked for. */
export class SafetensorsTensor implements TensorData {
  constructor(
    readonly name: string,
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly byteLength: number,
    /** Absolute offset of the first byte in the source. */
    readonly fileOffset: number,
    private readonly source: ByteSource,
  ) {}

  /** A fresh copy (so typed-array views over it are always aligned). */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.byteLength);
    if (this.byteLength > 0) this.source.read(this.fileOffset, this.byteLength, out);
    return out;
  }

  /** Pieces through one reused buffer: consume each before asking for the next. */
  *chunks(maxBytes = DEFAULT_CHUNK_BYTES): Iterable<Uint8Array> {
    const itemSize = DTYPE_SIZE[this.dtype];
    const step = Math.max(itemSize, maxBytes - (maxBytes % itemSize));
    const buffer = new Uint8Array(Math.min(step, this.byteLength));
    for (let at = 0; at < this.byteLength; at += step) {
      const n = Math.min(step, this.byteLength - at);
      yield this.source.read(this.fileOffset + at, n, buffer);
    }
  }
}

/**
 * Reads the header of a safetensors file held in memory or behind a ByteSource (src/readers/disk-safetensors.ts opens
 * paths). With `owned`, the file's close() closes the source (and a failed read closes it at once).
 */
export function parseSafetensors(input: Uint8Array | ByteSource, options: { owned?: boolean } = {}): SafetensorsFile {
  const owned = input instanceof Uint8Array || options.owned === true;
  const source = input instanceof Uint8Array ? new BufferSource(input) : input;
  try {
    return parse(source, owned);
  } catch (error) {
    if (owned) source.close();
    throw error;
  }
}

function corrupt(source: ByteSource, code: ErrorCodeOf<'corrupt'>, what: string, details: Record<string, unknown> = {}): CorruptInputError {
  return new CorruptInputError(code, `${source.name}: ${what}`, { file: source.name, ...details });
}

const NOT_SAFETENSORS = 'the file is truncated or not a safetensors file; re-export or re-download it';

function parse(source: ByteSource, owned: boolean): SafetensorsFile {
  if (source.size < 8) {
    throw corrupt(source, 'E_SAFETENSORS_TOO_SHORT', `only ${source.size} bytes, a safetensors file starts with an 8-byte header length (${NOT_SAFETENSORS})`);
  }
  // the first 8 bytes of a file that is not safetensors at all are no length: messages never print them as one
  const lengthField = new DataView(source.read(0, 8, new Uint8Array(8)).buffer).getBigUint64(0, true);
  if (lengthField > BigInt(MAX_SAFETENSORS_HEADER_BYTES)) {
    throw corrupt(source, 'E_SAFETENSORS_HEADER_TOO_LARGE', `the header length field (the first 8 bytes) asks for more than the ${MAX_SAFETENSORS_HEADER_BYTES}-byte limit (${NOT_SAFETENSORS})`, { limit: MAX_SAFETENSORS_HEADER_BYTES });
  }
  const headerBytes = Number(lengthField);
  if (headerBytes > source.size - 8) {
    throw corrupt(source, 'E_SAFETENSORS_HEADER_TRUNCATED', `the header length field (the first 8 bytes) asks for more than the ${source.size - 8} bytes after it (${NOT_SAFETENSORS})`, { size: source.size });
  }
  const dataStart = 8 + headerBytes;
  const header = decodeHeader(source, source.read(8, headerBytes, new Uint8Array(headerBytes)));
  const metadata = readMetadata(source, header['__metadata__']);
  const entries = Object.keys(header)
    .filter((name) => name !== '__metadata__')
    .map((name) => readEntry(source, name, header[name]));
  checkCoverage(source, entries, source.size - dataStart);
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    tensors.set(e.name, new SafetensorsTensor(e.name, e.dtype, e.shape, e.end - e.begin, dataStart + e.begin, source));
  }
  return { tensors, metadata, headerBytes, dataStart, source, close: () => (owned ? source.close() : undefined) };
}

function decodeHeader(source: ByteSource, bytes: Uint8Array): Record<string, unknown> {
  // ignoreBOM keeps a leading BOM in the text, so it is refused below like any other stray character
  const text = decodeUtf8(bytes);
  if (text === null) throw corrupt(source, 'E_SAFETENSORS_HEADER_UTF8', `the JSON header is not valid UTF-8 (${NOT_SAFETENSORS})`);
  // like the reference reader, the header must start with '{' (trailing space padding is fine)
  if (!text.startsWith('{')) {
    throw corrupt(source, 'E_SAFETENSORS_HEADER_JSON', `the header does not start with '{' (${NOT_SAFETENSORS})`);
  }
  const parsed = parseBoundedJson(
    text,
    { maxChars: MAX_SAFETENSORS_HEADER_BYTES, maxDepth: MAX_HEADER_DEPTH, maxEntries: MAX_SAFETENSORS_ENTRIES + 1 },
    { duplicates: 'refuse' },
  );
  if (!parsed.ok) {
    switch (parsed.problem) {
      case 'duplicate': {
        const where = parsed.parentKey == null ? 'the header' : `the header entry "${parsed.parentKey}"`;
        throw corrupt(source, 'E_SAFETENSORS_DUPLICATE_KEY', `key "${parsed.key}" appears twice in ${where}; readers disagree on which one counts, so the file is refused`, {
          key: parsed.key,
          parentKey: parsed.parentKey,
        });
      }
      case 'entries':
        throw corrupt(source, 'E_SAFETENSORS_TOO_MANY_TENSORS', `the header has ${parsed.reason}; the limit is ${MAX_SAFETENSORS_ENTRIES} tensors per file (no model hubert-convert reads has that many)`, {
          limit: MAX_SAFETENSORS_ENTRIES,
        });
      case 'depth':
        throw corrupt(source, 'E_SAFETENSORS_HEADER_JSON', `the header nests deeper than a safetensors header can (${parsed.reason}) (${NOT_SAFETENSORS})`);
      default:
        throw corrupt(source, 'E_SAFETENSORS_HEADER_JSON', `the header is ${parsed.reason.startsWith('not valid JSON') ? parsed.reason : `not valid JSON (${parsed.reason})`} (${NOT_SAFETENSORS})`);
    }
  }
  const value = parsed.value;
  if (!isPlainObject(value)) {
    throw corrupt(source, 'E_SAFETENSORS_HEADER_JSON', `the header is JSON but not an object (${NOT_SAFETENSORS})`);
  }
  return value;
}

function readMetadata(source: ByteSource, value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (!isPlainObject(value)) {
    throw corrupt(source, 'E_SAFETENSORS_METADATA', '"__metadata__" must be an object of string values');
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw corrupt(source, 'E_SAFETENSORS_METADATA', `"__metadata__"."${key}" is ${JSON.stringify(v)}, but metadata values must be strings`, { key });
    }
  }
  // fromEntries defines own properties, so a "__proto__" key stays a plain key
  return Object.fromEntries(Object.entries(value)) as Record<string, string>;
}

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

function readEntry(source: ByteSource, name: string, value: unknown): Entry {
  const where = `tensor "${name}"`;
  if (!isPlainObject(value)) {
    throw corrupt(source, 'E_SAFETENSORS_ENTRY', `${where}: the header entry must be an object with dtype, shape and data_offsets`, { tensor: name });
  }
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!Object.hasOwn(value, field)) throw corrupt(source, 'E_SAFETENSORS_ENTRY', `${where}: the header entry has no "${field}"`, { tensor: name, field });
  }
  const dtype = readDType(source, where, name, value['dtype']);
  const shape = value['shape'];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw corrupt(source, 'E_SAFETENSORS_SHAPE', `${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`, { tensor: name });
  }
  const offsets = value['data_offsets'];
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw corrupt(source, 'E_SAFETENSORS_OFFSETS', `${where}: data_offsets ${JSON.stringify(offsets)} must be [begin, end] with non-negative integers`, { tensor: name });
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) {
    throw corrupt(source, 'E_SAFETENSORS_OFFSETS', `${where}: data_offsets end ${end} is before begin ${begin}`, { tensor: name, begin, end });
  }
  const expected = byteSizeOf(shape as number[], DTYPE_SIZE[dtype]);
  if (expected !== end - begin) {
    const size = expected === null ? 'more than 2^53' : String(expected);
    throw corrupt(source, 'E_SAFETENSORS_SIZE_MISMATCH', `${where}: ${dtype}[${shape.join(', ')}] needs ${size} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`, { tensor: name, begin, end });
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

function readDType(source: ByteSource, where: string, name: string, value: unknown): DType {
  if (typeof value === 'string' && Object.hasOwn(DTYPE_SIZE, value)) return value as DType;
  if (typeof value === 'string' && SAFETENSORS_DTYPE_NAMES.has(value)) {
    throw new UnsupportedModelError('E_SAFETENSORS_DTYPE', `${source.name}: ${where} has dtype ${value}, which safetensors allows but hubert-convert does not handle (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`, { file: source.name, tensor: name, dtype: value });
  }
  throw corrupt(source, 'E_SAFETENSORS_DTYPE', `${where}: ${JSON.stringify(value)} is not a safetensors dtype`, { tensor: name });
}

/** numel × itemSize, or null when it is not a safe integer (such a tensor can never fit in a file). */
function byteSizeOf(shape: readonly number[], itemSize: number): number | null {
  if (shape.includes(0)) return 0;
  let n = itemSize;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return null;
  }
  return n;
}

/** The tensors must tile [0, dataSize) exactly: the reference reader refuses holes, overlaps and trailing bytes. */
function checkCoverage(source: ByteSource, entries: readonly Entry[], dataSize: number): void {
  for (const e of entries) {
    if (e.end > dataSize) {
      throw corrupt(source, 'E_SAFETENSORS_OUT_OF_BOUNDS', `tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] reach past the ${dataSize}-byte data area (${NOT_SAFETENSORS})`, { tensor: e.name, begin: e.begin, end: e.end, dataSize });
    }
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: Entry | null = null;
  for (const e of sorted) {
    if (e.begin < cursor) {
      throw corrupt(source, 'E_SAFETENSORS_OVERLAP', `tensors "${previous!.name}" [${previous!.begin}, ${previous!.end}] and "${e.name}" [${e.begin}, ${e.end}] overlap`, { tensors: [previous!.name, e.name] });
    }
    if (e.begin > cursor) {
      const after = previous ? `after tensor "${previous.name}"` : 'at the start of the data area';
      throw corrupt(source, 'E_SAFETENSORS_HOLE', `${e.begin - cursor} unused bytes ${after} (data bytes [${cursor}, ${e.begin}) belong to no tensor)`, { begin: cursor, end: e.begin });
    }
    if (e.end > cursor || previous === null) previous = e;
    cursor = Math.max(cursor, e.end);
  }
  if (cursor < dataSize) {
    throw corrupt(source, 'E_SAFETENSORS_TRAILING_BYTES', `${dataSize - cursor} bytes after the last tensor belong to no tensor (${NOT_SAFETENSORS})`, { begin: cursor, end: dataSize });
  }
}
