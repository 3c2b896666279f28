/**
 * Streaming safetensors writer. Tensor bytes go from `tensor.chunks()` straight to a ByteSink with positioned writes
 * (never the whole model in memory) and the sink keeps the sha256 of the bytes as they are written. Files on disk
 * (atomic: temporary sibling + rename) are written by ./disk-safetensors.ts; this module knows no file system.
 *
 * Order: the reference writer's (safetensors' Rust `serialize`, used by `safetensors.torch.save_file`): dtypes in
 * descending order of the format's dtype list (I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL), then names by
 * their UTF-8 bytes. With the same tensors and metadata our files are byte-identical to save_file's (tested).
 * Header: `__metadata__` first (keys sorted; default {"format":"pt"}, null to omit), padded with spaces to a multiple
 * of 8 so the data area is 8-aligned.
 */
import type { ByteSink } from '../byte-source.js';
import { DTYPE_SIZE, type DType } from '../dtype.js';
import { HubertConvertError, UsageError } from '../errors.js';
import { numelOf, type TensorData } from '../tensor.js';

export interface WrittenFile {
  path: string;
  bytes: number;
  /** Hex sha256 of the whole file. */
  sha256: string;
}

export interface WriteSafetensorsOptions {
  /** Header `__metadata__`; default {"format": "pt"} (transformers requires it); null writes none. */
  metadata?: Record<string, string> | null;
  /** Called with (bytes written, total bytes of the file) after the header and after every chunk. */
  onProgress?: (done: number, total: number) => void;
}

/** Rank in the format's dtype list; the reference writer sorts by it, descending. */
const DTYPE_RANK: Readonly<Record<DType, number>> = { BOOL: 0, U8: 1, I8: 2, I16: 3, F16: 4, BF16: 5, I32: 6, F32: 7, F64: 8, I64: 9 };

/** Bytes per write and per chunk asked of a tensor: few syscalls, and small enough that a chunk read from the
 * checkpoint is still in cache when it is hashed and written (measured faster than 16 MiB, and less memory). */
const CHUNK_BYTES = 1 << 20;
/** The async writers give the event loop a turn (signals, progress UI) after about this many bytes. */
const YIELD_EVERY_BYTES = 64 << 20;

export interface PlannedTensor {
  name: string;
  tensor: TensorData;
  begin: number;
  end: number;
}

/** The laid-out file: header bytes and each tensor's data offsets, in file order. */
export interface SafetensorsPlan {
  header: Uint8Array;
  tensors: PlannedTensor[];
  /** Total file size. */
  bytes: number;
}

const utf8 = new TextEncoder();

/** Order of the UTF-8 bytes (what the reference writer sorts by), without Node's Buffer. */
export function compareUtf8(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function checkName(name: string, seen: Set<string>): void {
  if (typeof name !== 'string' || name.length === 0 || name === '__metadata__' || LONE_SURROGATE.test(name)) {
    throw new UsageError('E_SAFETENSORS_TENSOR_NAME', `tensor name ${JSON.stringify(name)} cannot be written: names must be non-empty Unicode strings other than "__metadata__"`, { tensor: name });
  }
  if (seen.has(name)) {
    throw new UsageError('E_SAFETENSORS_DUPLICATE_NAME', `tensor "${name}" is given twice; each name may appear once in a safetensors file`, { tensor: name });
  }
  seen.add(name);
}

function checkTensor(name: string, t: TensorData): void {
  if (!Object.hasOwn(DTYPE_RANK, t.dtype)) {
    throw new UsageError('E_SAFETENSORS_DTYPE', `tensor "${name}": dtype ${String(t.dtype)} cannot be written`, { tensor: name });
  }
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || t.byteLength !== numelOf(t.shape) * DTYPE_SIZE[t.dtype]) {
    throw new UsageError('E_SAFETENSORS_TENSOR_SIZE', `tensor "${name}": ${t.dtype}[${t.shape.join(', ')}] does not match its byteLength ${t.byteLength}`, { tensor: name });
  }
}

/** Validates the tensors and lays the file out (reference order, offsets, padded header). */
export function planSafetensors(tensors: Iterable<[string, TensorData]>, metadata: Record<string, string> | null = { format: 'pt' }): SafetensorsPlan {
  const seen = new Set<string>();
  const list: Array<[string, TensorData]> = [];
  for (const [name, tensor] of tensors) {
    checkName(name, seen);
    checkTensor(name, tensor);
    list.push([name, tensor]);
  }
  list.sort(([an, at], [bn, bt]) => DTYPE_RANK[bt.dtype] - DTYPE_RANK[at.dtype] || compareUtf8(an, bn));
  const parts: string[] = [];
  if (metadata) parts.push(`"__metadata__":${metadataJson(metadata)}`);
  const planned: PlannedTensor[] = [];
  let offset = 0;
  for (const [name, tensor] of list) {
    planned.push({ name, tensor, begin: offset, end: offset + tensor.byteLength });
    parts.push(`${JSON.stringify(name)}:{"dtype":"${tensor.dtype}","shape":[${tensor.shape.join(',')}],"data_offsets":[${offset},${offset + tensor.byteLength}]}`);
    offset += tensor.byteLength;
  }
  const json = utf8.encode(`{${parts.join(',')}}`);
  const header = new Uint8Array(8 + Math.ceil(json.byteLength / 8) * 8).fill(0x20);
  new DataView(header.buffer).setBigUint64(0, BigInt(header.byteLength - 8), true);
  header.set(json, 8);
  return { header, tensors: planned, bytes: header.byteLength + offset };
}

function metadataJson(metadata: Record<string, string>): string {
  const keys = Object.keys(metadata).sort(compareUtf8);
  for (const key of keys) {
    if (typeof metadata[key] !== 'string' || LONE_SURROGATE.test(key) || LONE_SURROGATE.test(metadata[key])) {
      throw new UsageError('E_SAFETENSORS_METADATA', `metadata "${key}" must map a string to a string`, { key });
    }
  }
  return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`;
}

/**
 * Writes the planned file to `sink`, yielding after every chunk with the bytes written since the previous yield, so
 * the synchronous and asynchronous writers share one loop.
 */
function* writeSteps(sink: ByteSink, plan: SafetensorsPlan, onProgress?: (done: number, total: number) => void): Generator<number> {
  sink.write(plan.header, 0);
  let position = plan.header.byteLength;
  onProgress?.(position, plan.bytes);
  for (const { name, tensor, begin, end } of plan.tensors) {
    // straight from the file into the sink's own buffer where both allow it (no copy for a hashing thread)
    if (sink.slot && tensor.readInto && end > begin) {
      const first = sink.slot(Math.min(CHUNK_BYTES, end - begin));
      if (tensor.readInto(0, first)) {
        for (let chunk = first; ; ) {
          sink.write(chunk, position);
          position += chunk.byteLength;
          onProgress?.(position, plan.bytes);
          yield chunk.byteLength;
          const at = position - plan.header.byteLength - begin;
          if (at >= end - begin) break;
          chunk = sink.slot(Math.min(CHUNK_BYTES, end - begin - at));
          tensor.readInto(at, chunk);
        }
        continue;
      }
    }
    for (const chunk of tensor.chunks(CHUNK_BYTES)) {
      if (position + chunk.byteLength > plan.header.byteLength + end) break;
      sink.write(chunk, position);
      position += chunk.byteLength;
      onProgress?.(position, plan.bytes);
      yield chunk.byteLength;
    }
    if (position !== plan.header.byteLength + end) {
      throw new HubertConvertError('internal', 'E_SAFETENSORS_WRITE_SIZE', `tensor "${name}": its chunks did not produce exactly ${end - begin} bytes`, { tensor: name });
    }
  }
}

/** Writes a planned file to a sink. */
export function writePlannedTo(sink: ByteSink, plan: SafetensorsPlan, onProgress?: (done: number, total: number) => void): WrittenFile {
  for (const _ of writeSteps(sink, plan, onProgress));
  return { path: sink.name, bytes: plan.bytes, sha256: sink.sha256() };
}

/** writePlannedTo that gives the event loop a turn every ~64 MiB, so Ctrl-C and progress output stay live. */
export async function writePlannedToAsync(sink: ByteSink, plan: SafetensorsPlan, onProgress?: (done: number, total: number) => void): Promise<WrittenFile> {
  let sinceYield = 0;
  for (const written of writeSteps(sink, plan, onProgress)) {
    sinceYield += written;
    if (sinceYield >= YIELD_EVERY_BYTES) {
      sinceYield = 0;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  return { path: sink.name, bytes: plan.bytes, sha256: sink.digest ? await sink.digest() : sink.sha256() };
}
