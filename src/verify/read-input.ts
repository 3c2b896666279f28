import { readInputBytes } from '../node-files.js';

/** --audio and --expected files: long recordings and activation sets fit; a file past this is not one of them. */
export const MAX_USER_FILE_BYTES = 1 << 30;

/**
 * A file the user named (--audio, --expected, --dict): a regular file (no device, FIFO or socket), read whole up to
 * `maxBytes`, or a FileSystemError that names it.
 */
export function readInputFile(path: string, what = '', maxBytes = MAX_USER_FILE_BYTES): Buffer {
  const bytes = readInputBytes(path, maxBytes, { what: what.trim() || 'input file', openCode: 'E_VERIFY_READ' });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
