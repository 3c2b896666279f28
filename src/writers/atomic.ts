/**
 * All-or-nothing outputs: write to a hidden temporary sibling (`<parent>/.<name>.tmp-<random>`), then rename it into
 * place, so a reader never sees a half-written file or folder. Any failure removes the temporary and rethrows;
 * interruption (SIGINT/SIGTERM) removes it through ./temp-registry.ts.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, lstatSync, openSync, readdirSync, renameSync, rmSync, writeSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FileSystemError } from '../errors.js';
import { registerTemporary, unregisterTemporary } from './temp-registry.js';

/** `<parent>/.<basename>.<kind>-<random>`: same folder, so the final rename stays on one file system. */
export function temporarySibling(finalPath: string, kind = 'tmp'): string {
  return join(dirname(finalPath), `.${basename(finalPath)}.${kind}-${randomBytes(6).toString('hex')}`);
}

/** A registered temporary sibling of `finalPath`, with the two ways it can end. */
function temporaryFile(finalPath: string) {
  const tmp = temporarySibling(finalPath);
  registerTemporary(tmp);
  return {
    tmp,
    commit(): void {
      renameSync(tmp, finalPath);
      unregisterTemporary(tmp);
    },
    abort(error: unknown): never {
      rmSync(tmp, { force: true });
      unregisterTemporary(tmp);
      throw wrapFsError(error, finalPath);
    },
  };
}

/** Runs `write(tmpPath)` then renames the file it wrote to `finalPath` (replacing a file there). */
export function withTemporaryFile<T>(finalPath: string, write: (tmpPath: string) => T): T {
  const file = temporaryFile(finalPath);
  try {
    const result = write(file.tmp);
    file.commit();
    return result;
  } catch (error) {
    return file.abort(error);
  }
}

/** withTemporaryFile for an asynchronous `write`. */
export async function withTemporaryFileAsync<T>(finalPath: string, write: (tmpPath: string) => Promise<T>): Promise<T> {
  const file = temporaryFile(finalPath);
  try {
    const result = await write(file.tmp);
    file.commit();
    return result;
  } catch (error) {
    return file.abort(error);
  }
}

/** Writes `data` to `path` atomically (fsync'ed before the rename). */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  withTemporaryFile(path, (tmp) => {
    const fd = openSync(tmp, 'wx');
    try {
      for (let done = 0; done < bytes.byteLength; ) done += writeSync(fd, bytes, done, Math.min(bytes.byteLength - done, 1 << 30));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  });
}

export interface TemporaryDirOptions {
  /** Replace an existing non-empty `finalDir` (moved aside first, deleted after the new one is in place). */
  force?: boolean;
  /**
   * With `force`: why the existing `finalDir` must not be replaced (undefined: it may be). A reason is refused with
   * E_OUTPUT_NOT_OURS, before `fn` runs and again before the rename.
   */
  whyNotReplaceable?: (finalDir: string) => string | undefined;
}

/**
 * Creates `<parent>/.<name>.tmp-<random>`, runs `fn(tmpDir)` (sync or async), then renames the folder to `finalDir`.
 * An existing non-empty `finalDir` (or a file there) is refused with E_OUTPUT_EXISTS unless `force`; the check runs
 * before `fn` (fail fast) and again before the rename. On any throw the temporary folder is removed.
 */
export async function withTemporaryDir<T>(finalDir: string, fn: (tmpDir: string) => T | Promise<T>, options: TemporaryDirOptions = {}): Promise<T> {
  const force = options.force ?? false;
  refuseExisting(finalDir, force, options.whyNotReplaceable);
  const tmp = temporarySibling(finalDir);
  registerTemporary(tmp);
  try {
    mkdirSync(tmp);
    const result = await fn(tmp);
    moveIntoPlace(tmp, finalDir, force, options.whyNotReplaceable);
    return result;
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw wrapFsError(error, finalDir);
  } finally {
    unregisterTemporary(tmp);
  }
}

/** What is at `path`: nothing, an empty folder, or something we would overwrite. */
function occupancy(path: string): 'absent' | 'empty-dir' | 'occupied' {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return 'absent';
  }
  return stat.isDirectory() && readdirSync(path).length === 0 ? 'empty-dir' : 'occupied';
}

function refuseExisting(finalDir: string, force: boolean, whyNotReplaceable?: (finalDir: string) => string | undefined): void {
  if (occupancy(finalDir) !== 'occupied') return;
  if (!force) {
    throw new FileSystemError('E_OUTPUT_EXISTS', `${finalDir} already exists and is not empty; choose another output folder or pass --force to replace it`, { path: finalDir });
  }
  const reason = whyNotReplaceable?.(finalDir);
  if (reason !== undefined) {
    throw new FileSystemError(
      'E_OUTPUT_NOT_OURS',
      `--force replaces only an empty folder or one hubert-convert wrote, and ${finalDir} is neither: ${reason}. Nothing was changed; remove it yourself if you want it replaced, or choose another output folder`,
      { path: finalDir },
    );
  }
}

function moveIntoPlace(tmp: string, finalDir: string, force: boolean, whyNotReplaceable?: (finalDir: string) => string | undefined): void {
  refuseExisting(finalDir, force, whyNotReplaceable);
  const state = occupancy(finalDir);
  if (state === 'absent' || state === 'empty-dir') {
    if (state === 'empty-dir') rmSync(finalDir, { recursive: true });
    renameSync(tmp, finalDir);
    return;
  }
  // force: keep the old output until the new one is in place, so a failed rename loses nothing
  // (not registered for signal cleanup: these synchronous steps cannot be interrupted by a JS signal handler)
  const old = temporarySibling(finalDir, 'old');
  renameSync(finalDir, old);
  try {
    renameSync(tmp, finalDir);
  } catch (error) {
    renameSync(old, finalDir);
    throw error;
  }
  rmSync(old, { recursive: true, force: true });
}

function wrapFsError(error: unknown, path: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (error instanceof Error && !(error instanceof FileSystemError) && typeof code === 'string' && /^E[A-Z]+$/.test(code) && 'syscall' in error) {
    return new FileSystemError('E_OUTPUT_WRITE', `cannot write ${path}: ${error.message}`, { path, errno: code });
  }
  return error;
}
