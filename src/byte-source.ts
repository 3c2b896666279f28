import { CorruptInputError } from './errors.js';

/**
 * Random access to the bytes of an input, so readers never need the whole file in memory.
 * Files are opened by src/node-files.ts (FileSource); a buffer source serves library callers that already hold the
 * bytes. Format readers depend on this interface only, never on Node's fs.
 */
export interface ByteSource {
  /** A name for messages: the file path, or "<buffer>". */
  readonly name: string;
  readonly size: number;
  /**
   * Exactly `length` bytes starting at `offset`. With `into`, fills and returns `into.subarray(0, length)`.
   * Reading past the end is a CorruptInputError (the caller asked for bytes a header promised).
   */
  read(offset: number, length: number, into?: Uint8Array): Uint8Array;
  close(): void;
}

export function checkRange(source: ByteSource, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > source.size) {
    throw new CorruptInputError(
      'E_TRUNCATED',
      `${source.name}: ${what} needs bytes ${offset}..${offset + length} but the input has ${source.size} bytes (truncated or corrupt file)`,
      { offset, length, size: source.size },
    );
  }
}

export class BufferSource implements ByteSource {
  readonly name: string;
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    name = '<buffer>',
  ) {
    this.name = name;
    this.size = bytes.byteLength;
  }
  read(offset: number, length: number, into?: Uint8Array): Uint8Array {
    checkRange(this, offset, length, 'a read');
    const view = this.bytes.subarray(offset, offset + length);
    if (!into) return view;
    const out = into.subarray(0, length);
    out.set(view);
    return out;
  }
  close(): void {}
}

/**
 * The files of a folder source (a Hugging Face model folder), by plain file name. The format readers that read a
 * folder (safetensors index and shards) ask it for files; src/node-files.ts implements it over a directory.
 */
export interface SourceFolder {
  /** The folder, for messages. */
  readonly name: string;
  /** The path of a file inside, for messages. */
  pathOf(file: string): string;
  /** Whether the folder has an entry of that name (open() still refuses anything but a regular file). */
  has(file: string): boolean;
  open(file: string): ByteSource;
  /** The whole file, refused when it holds more than `maxBytes`. */
  readAll(file: string, maxBytes: number): Uint8Array;
}

/**
 * Where a writer's bytes go: positioned writes, front to back, each byte once. The sink keeps the sha256 of what was
 * written (writers report it), so writers need no hashing library of their own. src/node-files.ts implements it over a
 * file.
 */
export interface ByteSink {
  /** A name for messages (the file path). */
  readonly name: string;
  write(bytes: Uint8Array, position: number): void;
  /** Hex sha256 of the bytes written so far, in order. */
  sha256(): string;
  /**
   * The same, once every written byte is hashed: for sinks that hash on another thread (where sha256() is not
   * available); async writers ask this one.
   */
  digest?(): Promise<string>;
  /**
   * A buffer of `length` bytes (at most 1 MiB) that the writer may fill and then pass to write(): a sink that hashes on
   * another thread takes it without a copy. Only the last buffer handed out may be written.
   */
  slot?(length: number): Uint8Array;
}

/**
 * A folder being written (an output folder, a temporary one): each file appears under its name only once its writer
 * has finished (atomic), so a failed write never leaves a half file.
 */
export interface SinkFolder {
  readonly name: string;
  pathOf(file: string): string;
  create<T>(file: string, write: (sink: ByteSink) => T): T;
  /** `expectedBytes`, when known, lets the sink hash a big file on another thread. */
  createAsync<T>(file: string, write: (sink: ByteSink) => Promise<T>, expectedBytes?: number): Promise<T>;
  /** A small text file, written whole. */
  writeText(file: string, text: string): void;
}
