/**
 * Writing protobuf segments and ONNX external data to disk, hashing on the way, one tensor in memory at a time.
 * External initializers start at 4096-aligned offsets so onnxruntime can map them without copying.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { type RingHash, startRingHash } from '../../hash-ring.js';
import { hashThreadPolicy } from '../../node-files.js';
import { FileSystemError, HubertConvertError } from '../../errors.js';
import type { ExternalPlacement, Initializer } from './graph.js';
import type { Segment } from './proto.js';

export const EXTERNAL_ALIGNMENT = 4096;
/** Smaller initializers stay inside the .onnx file (as onnx's own converter does, threshold 1024). */
export const EXTERNAL_MIN_BYTES = 1024;
/** protobuf refuses messages of 2 GiB or more; keep a margin for the graph structure. */
export const PROTOBUF_LIMIT = 2 ** 31 - (64 << 20);

export interface WrittenFile { bytes: number; sha256: string }

/** A buffered, hashing file writer (Node refuses single writes over 2 GiB; we write ≤ 4 MiB at a time). */
class HashingWriter {
  private readonly fd: number;
  private readonly hash: { update(bytes: Uint8Array): void };
  private readonly ring: RingHash | null;
  private readonly buffer = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  written = 0;

  constructor(readonly path: string, expectedBytes: number) {
    try {
      this.fd = openSync(path, 'w');
    } catch (e) {
      throw new FileSystemError('E_ONNX_WRITE', `cannot create ${path}: ${(e as Error).message}`, { path });
    }
    // big files are hashed on another thread (src/hash-ring.ts), by the policy outputs follow: building a graph keeps
    // this thread busy computing initializers, so the hash runs beside it (x-large: 5 s of the build)
    this.ring = hashThreadPolicy.outputs && expectedBytes >= hashThreadPolicy.minBytes ? startRingHash(basename(path)) : null;
    this.hash = this.ring ? { update: (bytes) => this.ring!.push(bytes) } : createHash('sha256');
  }
  private flush(): void {
    if (this.used === 0) return;
    this.writeDirect(this.buffer.subarray(0, this.used));
    this.used = 0;
  }
  private writeDirect(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(this.fd, bytes, done, bytes.byteLength - done);
    this.hash.update(bytes);
  }
  write(bytes: Uint8Array): void {
    this.written += bytes.byteLength;
    if (bytes.byteLength > this.buffer.byteLength / 2) {
      this.flush();
      this.writeDirect(bytes);
      return;
    }
    if (this.used + bytes.byteLength > this.buffer.byteLength) this.flush();
    this.buffer.set(bytes, this.used);
    this.used += bytes.byteLength;
  }
  zeros(n: number): void {
    const z = new Uint8Array(Math.min(n, EXTERNAL_ALIGNMENT));
    for (let left = n; left > 0; left -= z.byteLength) this.write(left >= z.byteLength ? z : z.subarray(0, left));
  }
  async close(): Promise<WrittenFile> {
    this.flush();
    closeSync(this.fd);
    const sha256 = this.ring ? await this.ring.digest() : (this.hash as Hash).digest('hex');
    return { bytes: this.written, sha256 };
  }
  /** After a failure: the file is abandoned (the caller removes the folder). */
  abandon(): void {
    closeSync(this.fd);
    this.ring?.cancel();
  }
}

function writeBlob(out: HashingWriter, what: string, length: number, chunks: Iterable<Uint8Array>): void {
  const start = out.written;
  for (const c of chunks) out.write(c);
  if (out.written - start !== length) {
    throw new HubertConvertError('internal', 'E_ONNX_BLOB_LENGTH', `${out.path}: ${what} produced ${out.written - start} bytes, expected ${length}`);
  }
}

const segmentBytes = (segments: readonly Segment[]): number => segments.reduce((a, s) => a + (s instanceof Uint8Array ? s.byteLength : s.length), 0);

/** Stream a serialized message to `path`. */
export async function writeSegments(path: string, segments: Segment[]): Promise<WrittenFile> {
  const out = new HashingWriter(path, segmentBytes(segments));
  try {
    for (const s of segments) {
      if (s instanceof Uint8Array) out.write(s);
      else writeBlob(out, 'a raw_data field', s.length, s.chunks());
    }
  } catch (e) {
    out.abandon();
    throw e;
  }
  return out.close();
}

/** Offsets for every initializer of at least `minBytes`, each 4096-aligned, in graph order. */
export function planExternal(inits: readonly Initializer[], location: string, minBytes = EXTERNAL_MIN_BYTES): Map<string, ExternalPlacement> {
  const plan = new Map<string, ExternalPlacement>();
  let offset = 0;
  for (const init of inits) {
    if (init.byteLength < minBytes) continue;
    offset = Math.ceil(offset / EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT;
    plan.set(init.name, { location, offset, length: init.byteLength });
    offset += init.byteLength;
  }
  return plan;
}

/** Write the external data file laid out by `plan`. */
export async function writeExternalData(path: string, inits: readonly Initializer[], plan: ReadonlyMap<string, ExternalPlacement>): Promise<WrittenFile> {
  const end = [...plan.values()].reduce((a, p) => Math.max(a, p.offset + p.length), 0);
  const out = new HashingWriter(path, end);
  try {
    for (const init of inits) {
      const place = plan.get(init.name);
      if (!place) continue;
      out.zeros(place.offset - out.written);
      writeBlob(out, `initializer ${init.name}`, place.length, init.chunks());
    }
  } catch (e) {
    out.abandon();
    throw e;
  }
  return out.close();
}
