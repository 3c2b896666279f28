/**
 * Small files the user names beside the source (--dict): read once, regular files only, with a size cap that holds
 * even when the file system reports a size of 0. The readers apply the same rules to the sources themselves.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { CorruptInputError, FileSystemError } from './errors.js';
import { decodeFairseqDict } from './mappings/tokenizer.js';

/** A fairseq dict.ltr.txt is a few kB; a cap far above any real one keeps a wrong file from being read whole. */
const MAX_DICT_BYTES = 16 << 20;

/** The text of a --dict file: a regular file, UTF-8, within the cap (E_NOT_A_FILE, E_DICT_ENCODING, E_INPUT_TOO_LARGE). */
export function readDictFile(path: string): string {
  return decodeFairseqDict(readSideInput(path, '--dict', MAX_DICT_BYTES), `--dict ${path}`);
}

export function readSideInput(path: string, what: string, maxBytes: number): Uint8Array {
  let stat: ReturnType<typeof statSync> | undefined;
  try {
    stat = statSync(path);
  } catch {
    stat = undefined; // missing, or below a file (ENOTDIR)
  }
  if (!stat) throw new FileSystemError('E_NOT_FOUND', `${what} ${path} does not exist`, { path });
  if (stat.isDirectory()) throw new FileSystemError('E_NOT_A_FILE', `${what} ${path} is a folder; pass the file itself`, { path });
  if (!stat.isFile()) throw new FileSystemError('E_NOT_A_FILE', `${what} ${path} is not a regular file (a device, FIFO or socket); pass a file`, { path });
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new FileSystemError('E_FILE_READ', `cannot read ${what} ${path}: ${(error as Error).message}`, { path });
  }
  try {
    if (!fstatSync(fd).isFile()) throw new FileSystemError('E_NOT_A_FILE', `${what} ${path} is not a regular file; pass a file`, { path });
    // grow as bytes arrive instead of trusting the reported size: a size of 0 (procfs, some FUSE mounts) must not read unbounded
    let buffer = new Uint8Array(Math.min(maxBytes + 1, Math.max(stat.size + 1, 1 << 16)));
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) throw tooLarge(path, what, maxBytes);
        const bigger = new Uint8Array(Math.min(maxBytes + 1, buffer.length * 2));
        bigger.set(buffer);
        buffer = bigger;
      }
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) return buffer.subarray(0, length);
      length += n;
    }
  } finally {
    closeSync(fd);
  }
}

function tooLarge(path: string, what: string, maxBytes: number): CorruptInputError {
  return new CorruptInputError('E_INPUT_TOO_LARGE', `${what} ${path} is larger than ${maxBytes} bytes, far more than such a file holds; is it the right file?`, { path });
}
