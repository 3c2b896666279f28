import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Size and sha256 of an input file, read once in large sequential chunks (for the conversion report). */
export function describeFile(path: string, onProgress?: (done: number, total: number) => void): { file: string; bytes: number; sha256: string } {
  const fd = openSync(path, 'r');
  try {
    const bytes = fstatSync(fd).size;
    const hash = createHash('sha256');
    const buffer = new Uint8Array(8 << 20);
    for (let at = 0; at < bytes; ) {
      const n = readSync(fd, buffer, 0, buffer.byteLength, at);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      at += n;
      onProgress?.(at, bytes);
    }
    return { file: path, bytes, sha256: hash.digest('hex') };
  } finally {
    closeSync(fd);
  }
}
