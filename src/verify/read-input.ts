import { readFileSync } from 'node:fs';
import { FileSystemError } from '../errors.js';

/** A file the user named (--audio, --expected, --dict), or a FileSystemError that names it. */
export function readInputFile(path: string, what = ''): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new FileSystemError('E_VERIFY_READ', `cannot read ${what}${path}: ${(error as Error).message}`, { file: path });
  }
}
