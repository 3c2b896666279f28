import type { ByteSource } from '../byte-source.js';
import { CorruptInputError, type ErrorCodeOf } from '../errors.js';

/**
 * Just enough of the zip format for torch.save archives: the central directory (with ZIP64), stored records, and the
 * local header of a record to find where its bytes start. No decompression: torch writes every record stored.
 */

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate, ... */
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
/** A central directory larger than this is not a torch checkpoint (it has a few entries per tensor). */
const MAX_DIRECTORY_BYTES = 256 << 20;
/**
 * Records one archive may have: torch.save writes one per storage plus a handful; a checkpoint with full optimizer
 * state has a few thousand. Checked against the end record's count before any entry is read.
 */
export const MAX_ZIP_ENTRIES = 1 << 18;

function corrupt(source: ByteSource, code: ErrorCodeOf<'corrupt'>, message: string): CorruptInputError {
  return new CorruptInputError(code, `${source.name}: ${message}`, { file: source.name });
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function u64(dv: DataView, at: number, source: ByteSource): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(source, 'E_ZIP_CORRUPT', `a ZIP64 size or offset (${v}) is impossibly large`);
  return Number(v);
}

interface Directory {
  offset: number;
  size: number;
  count: number;
}

/** Find the end-of-central-directory record (and its ZIP64 twin when present). */
function findDirectory(source: ByteSource): Directory {
  const tailLength = Math.min(source.size, EOCD_SIZE + MAX_COMMENT);
  const tailStart = source.size - tailLength;
  const tail = source.read(tailStart, tailLength);
  const dv = view(tail);
  let eocd = -1;
  for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
    if (dv.getUint32(i, true) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw corrupt(source, 'E_ZIP_NO_DIRECTORY', 'zip end-of-central-directory record not found (truncated download or not a zip file)');
  let count = dv.getUint16(eocd + 10, true);
  let size = dv.getUint32(eocd + 12, true);
  let offset = dv.getUint32(eocd + 16, true);
  const locatorAt = tailStart + eocd - 20;
  if (locatorAt >= 0) {
    const locator = view(source.read(locatorAt, 20));
    if (locator.getUint32(0, true) === ZIP64_LOCATOR_SIG) {
      const zip64At = u64(locator, 8, source);
      const record = view(source.read(zip64At, 56));
      if (record.getUint32(0, true) !== ZIP64_EOCD_SIG) throw corrupt(source, 'E_ZIP_CORRUPT', `ZIP64 end-of-central-directory record missing at offset ${zip64At}`);
      count = u64(record, 32, source);
      size = u64(record, 40, source);
      offset = u64(record, 48, source);
    }
  }
  if (offset + size > source.size) throw corrupt(source, 'E_TRUNCATED', `the central directory (offset ${offset}, ${size} bytes) lies beyond the end of the file (truncated)`);
  if (size > MAX_DIRECTORY_BYTES) throw corrupt(source, 'E_ZIP_CORRUPT', `central directory of ${size} bytes is implausibly large`);
  if (count > MAX_ZIP_ENTRIES) {
    throw new CorruptInputError('E_ZIP_TOO_MANY_ENTRIES', `${source.name}: the zip lists ${count} records, over the limit of ${MAX_ZIP_ENTRIES} (a torch checkpoint has one per storage); not a checkpoint hubert-convert reads`, {
      file: source.name,
      limit: MAX_ZIP_ENTRIES,
    });
  }
  return { offset, size, count };
}

/** Read every central-directory entry (header reads only; no record data is touched). */
export function readZipEntries(source: ByteSource): ZipEntry[] {
  const dir = findDirectory(source);
  const bytes = source.read(dir.offset, dir.size);
  const dv = view(bytes);
  const entries: ZipEntry[] = [];
  const names = new TextDecoder('utf-8');
  let at = 0;
  while (at + 46 <= bytes.byteLength && dv.getUint32(at, true) === CENTRAL_SIG) {
    if (entries.length === dir.count) throw corrupt(source, 'E_ZIP_CORRUPT', `central directory lists more entries than the ${dir.count} the end record says`);
    const flags = dv.getUint16(at + 8, true);
    const method = dv.getUint16(at + 10, true);
    let compressedSize = dv.getUint32(at + 20, true);
    let size = dv.getUint32(at + 24, true);
    const nameLength = dv.getUint16(at + 28, true);
    const extraLength = dv.getUint16(at + 30, true);
    const commentLength = dv.getUint16(at + 32, true);
    let localHeaderOffset = dv.getUint32(at + 42, true);
    const end = at + 46 + nameLength + extraLength + commentLength;
    if (end > bytes.byteLength) throw corrupt(source, 'E_ZIP_CORRUPT', `central directory entry ${entries.length} runs past the directory`);
    const name = names.decode(bytes.subarray(at + 46, at + 46 + nameLength));
    // ZIP64 extra field: the 8-byte values present are exactly those whose 4-byte field is 0xFFFFFFFF, in this order
    for (let x = at + 46 + nameLength; x + 4 <= at + 46 + nameLength + extraLength; ) {
      const id = dv.getUint16(x, true);
      const len = dv.getUint16(x + 2, true);
      if (x + 4 + len > at + 46 + nameLength + extraLength) break;
      if (id === 0x0001) {
        let p = x + 4;
        const take = (): number => {
          if (p + 8 > x + 4 + len) throw corrupt(source, 'E_ZIP_CORRUPT', `ZIP64 extra field of '${name}' is too short`);
          const v = u64(dv, p, source);
          p += 8;
          return v;
        };
        if (size === 0xffffffff) size = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
      }
      x += 4 + len;
    }
    // every record lies before the central directory; checking here means no later read can run out of bounds
    if (localHeaderOffset + 30 + nameLength + compressedSize > dir.offset) {
      throw corrupt(source, 'E_ZIP_CORRUPT', `record '${name}' claims ${compressedSize} bytes at offset ${localHeaderOffset}, beyond the data area (ends at ${dir.offset}); the archive is corrupt`);
    }
    entries.push({ name, method, flags, compressedSize, size, localHeaderOffset });
    at = end;
  }
  if (entries.length !== dir.count) {
    throw corrupt(source, 'E_ZIP_CORRUPT', `central directory lists ${entries.length} entries but the end record says ${dir.count}`);
  }
  return entries;
}

/**
 * Where an entry's bytes start: after its local header (30 bytes + name + extra, which torch pads for alignment).
 * The local header must name the same file as the central directory (Python's zipfile, which torch.load uses for
 * nothing but agrees with, refuses a mismatch; two readers must not see two different archives).
 */
export function entryDataOffset(source: ByteSource, entry: ZipEntry): number {
  const header = view(source.read(entry.localHeaderOffset, 30));
  if (header.getUint32(0, true) !== LOCAL_SIG) {
    throw corrupt(source, 'E_ZIP_CORRUPT', `record '${entry.name}': no local header at offset ${entry.localHeaderOffset}`);
  }
  const nameLength = header.getUint16(26, true);
  const localName = new TextDecoder('utf-8').decode(source.read(entry.localHeaderOffset + 30, Math.min(nameLength, source.size - entry.localHeaderOffset - 30)));
  if (localName !== entry.name) {
    throw new CorruptInputError(
      'E_ZIP_NAME_MISMATCH',
      `${source.name}: the central directory names record '${entry.name}' but its local header names another file; readers would disagree on the archive's content, so it is refused (re-save the checkpoint with torch.save)`,
      { file: source.name, record: entry.name },
    );
  }
  const start = entry.localHeaderOffset + 30 + nameLength + header.getUint16(28, true);
  if (start + entry.compressedSize > source.size) {
    throw corrupt(source, 'E_TRUNCATED', `record '${entry.name}' (${entry.compressedSize} bytes at offset ${start}) runs past the end of the file (truncated download?)`);
  }
  return start;
}
