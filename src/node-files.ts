/**
 * The one module that opens input files with Node's fs. Every file a source reads (checkpoint, HF folder files,
 * --dict, --upstream, --audio, --expected, shards) comes through here, so one set of rules holds for all of them:
 *  - opened once, without blocking (O_NONBLOCK: opening a FIFO with no writer would otherwise hang), then the open
 *    descriptor is fstat-ed and must be a regular file (symlinks are followed, so a Hugging Face cache layout
 *    `snapshots/<rev>/x -> ../../blobs/<sha>` works; devices, FIFOs and sockets are refused);
 *  - files read whole are read with a size cap that holds even when fstat reports 0 (read up to cap + 1 bytes).
 * Format readers never see a path: they get a ByteSource (or a SourceFolder for a Hugging Face folder); format
 * writers get a ByteSink (or a SinkFolder), implemented here over files written atomically (src/writers/atomic.ts).
 */
import { type Hash, createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, mkdirSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { type ByteSink, type ByteSource, type SinkFolder, type SourceFolder, checkRange } from './byte-source.js';
import { CorruptInputError, type ErrorCodeOf, FileSystemError, HubertConvertError } from './errors.js';
import { type RingHash, startRingHash } from './hash-ring.js';
import { withTemporaryFile, withTemporaryFileAsync, writeFileAtomic } from './writers/atomic.js';

export interface OpenOptions {
  /** What the file is, for messages ("checkpoint", "--dict file", "config.json"). */
  what?: string;
  /** Error code when the file cannot be opened (missing, permission). */
  openCode?: ErrorCodeOf<'io'>;
}

function kindOf(stats: import('node:fs').Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** Opens `path` read-only and checks the descriptor is a regular file; returns the fd and its size. */
function openRegular(path: string, options: OpenOptions): { fd: number; size: number } {
  const what = options.what ?? 'input file';
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    if (reason === 'ENOENT' && !options.openCode) throw new FileSystemError('E_FILE_NOT_FOUND', `${path}: no such file`, { file: path });
    throw new FileSystemError(options.openCode ?? 'E_FILE_READ', `${path}: cannot open ${what} (${reason})`, { file: path, reason });
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      if (stats.isDirectory()) {
        const noun = what.endsWith('file') ? what : `${what} file`;
        throw new FileSystemError('E_IS_DIRECTORY', `${path} is a directory; pass ${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`, { file: path });
      }
      throw new FileSystemError('E_NOT_REGULAR_FILE', `${path} is ${kindOf(stats)}, not a regular file; hubert-convert reads ${what}s only from regular files (symlinks to regular files are fine)`, {
        file: path,
      });
    }
    return { fd, size: stats.size };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** A ByteSource over a regular file, read with positioned reads. */
export class FileSource implements ByteSource {
  readonly name: string;
  readonly size: number;
  private fd: number | null;
  constructor(path: string, options: OpenOptions = {}) {
    this.name = path;
    const { fd, size } = openRegular(path, options);
    this.fd = fd;
    this.size = size;
  }
  read(offset: number, length: number, into?: Uint8Array): Uint8Array {
    checkRange(this, offset, length, 'a read');
    if (this.fd === null) throw new Error(`${this.name}: read after close`);
    const out = into ? into.subarray(0, length) : new Uint8Array(length);
    let done = 0;
    while (done < length) {
      // readSync takes at most 2 GiB per call
      const n = readSync(this.fd, out, done, Math.min(length - done, 1 << 30), offset + done);
      if (n === 0) {
        // the file shrank after it was opened
        throw new CorruptInputError('E_TRUNCATED', `${this.name}: the file ended at byte ${offset + done}, before the ${length} bytes asked for at ${offset}; was it modified while being read?`);
      }
      done += n;
    }
    return out;
  }
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Opens an input file as a ByteSource (regular files only). */
export function openInputFile(path: string, options: OpenOptions = {}): FileSource {
  return new FileSource(path, options);
}

/**
 * The whole content of a regular file, at most `maxBytes` of it: reads until end of file whatever fstat said (some
 * file systems report 0), and refuses the file as soon as it holds more than the cap.
 */
export function readInputBytes(path: string, maxBytes: number, options: OpenOptions = {}): Uint8Array {
  const { fd, size } = openRegular(path, options);
  try {
    const tooLarge = () =>
      new FileSystemError('E_FILE_TOO_LARGE', `${path} is larger than the ${maxBytes}-byte limit for ${options.what ?? 'this input'}; it cannot be the file expected here`, {
        file: path,
        limit: maxBytes,
      });
    if (size > maxBytes) throw tooLarge();
    let buffer = new Uint8Array(Math.min(maxBytes + 1, Math.max(size + 1, 4096)));
    let length = 0;
    for (;;) {
      if (length === buffer.byteLength) {
        if (length > maxBytes) throw tooLarge();
        const grown = new Uint8Array(Math.min(maxBytes + 1, buffer.byteLength * 2));
        grown.set(buffer);
        buffer = grown;
      }
      const n = readSync(fd, buffer, length, buffer.byteLength - length, length);
      if (n === 0) break;
      length += n;
    }
    if (length > maxBytes) throw tooLarge();
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

/** Is `path` a directory (after following symlinks)? False when it does not exist. */
export function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/** Does anything exist at `path` (after following symlinks)? */
export function pathExists(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false }) !== undefined;
}

/** A folder on disk as a SourceFolder: plain file names inside it, opened by the rules above. */
export class NodeFolder implements SourceFolder {
  constructor(readonly name: string) {}
  pathOf(file: string): string {
    return join(this.name, file);
  }
  has(file: string): boolean {
    return pathExists(this.pathOf(file));
  }
  open(file: string, options: OpenOptions = {}): ByteSource {
    return openInputFile(this.pathOf(file), { what: file, ...options });
  }
  readAll(file: string, maxBytes: number, options: OpenOptions = {}): Uint8Array {
    return readInputBytes(this.pathOf(file), maxBytes, { what: file, ...options });
  }
}

// ------------------------------------------------------------------------------------------------------------ sinks

/** Never one write over 1 GiB (writeSync's limit is 2 GiB). */
const MAX_WRITE_BYTES = 1 << 30;

class FileSink implements ByteSink {
  private readonly hash: Hash | null;
  private readonly ring: RingHash | null;
  private written = 0;
  constructor(
    readonly name: string,
    private readonly fd: number,
    /** Hash on another thread (a big file), fed through a ring of shared slots the writer may fill itself. */
    hashOnThread = false,
  ) {
    this.ring = hashOnThread ? startRingHash(name) : null;
    this.hash = this.ring ? null : createHash('sha256');
    if (this.ring) this.slot = (length: number) => this.ring!.slot(length);
  }
  /** Present when hashing on a thread: a buffer to fill and pass to write(), which then needs no copy for the hash. */
  readonly slot?: (length: number) => Uint8Array;
  write(bytes: Uint8Array, position: number): void {
    if (this.ring && position !== this.written) {
      throw new HubertConvertError('internal', 'E_INTERNAL_SINK_ORDER', `${this.name}: a write at ${position} after ${this.written} bytes; this sink is written front to back`);
    }
    for (let done = 0; done < bytes.byteLength; ) {
      done += writeSync(this.fd, bytes, done, Math.min(bytes.byteLength - done, MAX_WRITE_BYTES), position + done);
    }
    this.written = Math.max(this.written, position + bytes.byteLength);
    if (this.hash) this.hash.update(bytes);
    else this.ring!.push(bytes);
  }
  sha256(): string {
    if (!this.hash) throw new HubertConvertError('internal', 'E_INTERNAL_SINK_DIGEST', `${this.name}: its sha256 is computed on another thread; ask digest()`);
    return this.hash.copy().digest('hex');
  }
  digest(): Promise<string> {
    return this.ring ? this.ring.digest() : Promise.resolve(this.sha256());
  }
  /** Stops the hashing thread, if any, when the file is done with or abandoned. */
  abandon(): void {
    this.ring?.cancel();
  }
}

function withSink<T>(name: string, tmp: string, write: (sink: ByteSink) => T): T {
  const fd = openSync(tmp, 'wx');
  try {
    return write(new FileSink(name, fd));
  } finally {
    closeSync(fd);
  }
}

/** Writes the file at `path` through a sink; it appears there (atomically) when `write` returns. */
export function createFile<T>(path: string, write: (sink: ByteSink) => T): T {
  return withTemporaryFile(path, (tmp) => withSink(path, tmp, write));
}

/** createFile for an asynchronous `write`. */
export async function createFileAsync<T>(path: string, write: (sink: ByteSink) => Promise<T>, options: CreateOptions = {}): Promise<T> {
  return withTemporaryFileAsync(path, async (tmp) => {
    const fd = openSync(tmp, 'wx');
    let sink: FileSink | undefined;
    try {
      sink = new FileSink(path, fd, hashThreadPolicy.outputs && (options.expectedBytes ?? 0) >= hashThreadPolicy.minBytes);
      const result = await write(sink);
      // the digest is awaited by the writer (sink.digest()); a writer that never asked leaves nothing running
      sink.abandon();
      return result;
    } catch (error) {
      sink?.abandon();
      throw error;
    } finally {
      closeSync(fd);
    }
  });
}

export interface CreateOptions {
  /** The file's size when known: big files are hashed on another thread (see src/hash-ring.ts). */
  expectedBytes?: number;
}

/**
 * When files are hashed on another thread. Tests change it to run the threaded paths on small fixtures.
 *  - `minBytes`: only files at least this big (inputs: src/source-info.ts; outputs: src/hash-ring.ts); a thread
 *    costs ~30 ms to start, which small files do not repay.
 *  - `outputs`: outputs too, with at least 2 cores. Since the NaN/Inf count rides on the write (non-finite.ts
 *    `watchNonFinite`), the writer no longer reads every tensor twice, and its own hash was the longest path left:
 *    on 2 cores, base converts 10 % faster with the output's hash on a thread (in-process 0.46 s against 0.51 s,
 *    5 alternating rounds; bench/RESULTS.md). On one core a thread only adds its cost.
 */
export const hashThreadPolicy = { minBytes: 64 << 20, outputs: availableParallelism() >= 2 };

/** A directory as a SinkFolder (created, with its parents, before the first file). */
export class NodeSinkFolder implements SinkFolder {
  constructor(readonly name: string) {}
  pathOf(file: string): string {
    return join(this.name, file);
  }
  private ensure(): void {
    mkdirSync(this.name, { recursive: true });
  }
  create<T>(file: string, write: (sink: ByteSink) => T): T {
    this.ensure();
    return createFile(this.pathOf(file), write);
  }
  createAsync<T>(file: string, write: (sink: ByteSink) => Promise<T>, expectedBytes?: number): Promise<T> {
    this.ensure();
    return createFileAsync(this.pathOf(file), write, expectedBytes !== undefined ? { expectedBytes } : {});
  }
  writeText(file: string, text: string): void {
    this.ensure();
    writeFileAtomic(this.pathOf(file), text);
  }
}
