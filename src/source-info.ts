import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { FileSystemError } from './errors.js';

export interface FileDescription {
  file: string;
  bytes: number;
  sha256: string;
}

/** 1 MiB: small enough to stay in cache between the read and the hash, large enough for few syscalls. */
const HASH_CHUNK_BYTES = 1 << 20;
/** The hashing thread reports progress about this often. */
const PROGRESS_EVERY_BYTES = 64 << 20;

/** Size and sha256 of an input file, read once in sequential chunks (for the conversion report). */
export function describeFile(path: string, onProgress?: (done: number, total: number) => void): FileDescription {
  const fd = openSync(path, 'r');
  try {
    const bytes = fstatSync(fd).size;
    const hash = createHash('sha256');
    const buffer = new Uint8Array(HASH_CHUNK_BYTES);
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

// The worker repeats describeFile's loop; it is a plain script (eval'd) so it needs no separate build output.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { closeSync, fstatSync, openSync, readSync } = require('node:fs');
const { createHash } = require('node:crypto');
try {
  const fd = openSync(workerData.path, 'r');
  try {
    const bytes = fstatSync(fd).size;
    const hash = createHash('sha256');
    const buffer = new Uint8Array(workerData.chunk);
    let reported = 0;
    for (let at = 0; at < bytes; ) {
      const n = readSync(fd, buffer, 0, buffer.byteLength, at);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      at += n;
      if (at - reported >= workerData.progressEvery) {
        reported = at;
        parentPort.postMessage({ done: at, total: bytes });
      }
    }
    parentPort.postMessage({ bytes, sha256: hash.digest('hex') });
  } finally {
    closeSync(fd);
  }
} catch (error) {
  parentPort.postMessage({ error: { message: String(error && error.message), code: error && error.code } });
}
`;

type WorkerMessage = { bytes: number; sha256: string } | { done: number; total: number } | { error: { message: string; code?: string } };

export interface PendingDescription {
  /** Resolves to the description; rejects with a FileSystemError if the file cannot be read. */
  readonly result: Promise<FileDescription>;
  /** Stops the hashing thread if it is still running (after an error elsewhere); harmless when done. */
  cancel(): void;
}

/**
 * describeFile on another thread, so hashing the input overlaps the conversion instead of adding a full extra pass
 * over the file to the wall time. `onProgress` is called (on this thread, between other work) about every 64 MiB.
 * Call `cancel()` when the result is no longer wanted.
 */
export function describeFileInBackground(path: string, onProgress?: (done: number, total: number) => void): PendingDescription {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, chunk: HASH_CHUNK_BYTES, progressEvery: PROGRESS_EVERY_BYTES } });
  const result = new Promise<FileDescription>((resolve, reject) => {
    worker.on('message', (m: WorkerMessage) => {
      if ('total' in m) {
        onProgress?.(m.done, m.total);
        return;
      }
      if ('error' in m) reject(new FileSystemError('E_FILE_READ', `cannot read ${path} to hash it: ${m.error.message}`, { path, errno: m.error.code }));
      else {
        onProgress?.(m.bytes, m.bytes);
        resolve({ file: path, bytes: m.bytes, sha256: m.sha256 });
      }
      void worker.terminate();
    });
    worker.once('error', (error) => reject(new FileSystemError('E_FILE_READ', `cannot hash ${path}: ${error.message}`, { path })));
    worker.once('exit', () => reject(new FileSystemError('E_FILE_READ', `cannot hash ${path}: the hashing thread stopped`, { path })));
  });
  // a cancelled or failed hash that nobody awaits must not become an unhandled rejection
  result.catch(() => {});
  return { result, cancel: () => void worker.terminate() };
}
