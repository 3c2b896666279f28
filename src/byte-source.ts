import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CorruptInputError } from './errors.js';

/**
 * Random access to the bytes of an input, so readers never need the whole file in memory.
 * A file source does positioned reads; a buffer source serves library callers that already hold the bytes.
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

function checkRange(source: ByteSource, offset: number, length: number, what: string): void {
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

export class FileSource implements ByteSource {
  readonly name: string;
  readonly size: number;
  private fd: number | null;
  constructor(path: string) {
    this.name = path;
    this.fd = openSync(path, 'r');
    this.size = fstatSync(this.fd).size;
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
