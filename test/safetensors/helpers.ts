import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';
import type { DType } from '../../src/dtype.js';
import { HubertConvertError } from '../../src/errors.js';
import { MemoryTensor, type TensorData } from '../../src/tensor.js';

export const DATA_DIR = fileURLToPath(new URL('./data', import.meta.url));

export interface ReferenceListing {
  metadata: Record<string, string> | null;
  tensors: Array<{ name: string; dtype: DType; shape: number[]; hex: string }>;
}

/** A reference file's tensor listing (written by data/make.py from torch's own bytes). */
export function referenceListing(name: string): ReferenceListing {
  return JSON.parse(readFileSync(join(DATA_DIR, `${name}.json`), 'utf8')) as ReferenceListing;
}

export function memoryTensors(listing: ReferenceListing): Array<[string, MemoryTensor]> {
  return listing.tensors.map((t) => [t.name, new MemoryTensor(t.dtype, t.shape, new Uint8Array(Buffer.from(t.hex, 'hex')))]);
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** The hex of a tensor's chunks, each consumed before the next (chunks may share one buffer). */
export function chunkHex(t: TensorData, maxBytes: number): string {
  let out = '';
  for (const c of t.chunks(maxBytes)) out += hex(c);
  return out;
}

/** A safetensors file from a header text (not padded) and data bytes; `length` overrides the length field. */
export function rawFile(header: string, data: Uint8Array | number = 0, length?: bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.byteLength + body.byteLength);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(body, 8 + json.byteLength);
  return out;
}

/** Runs fn, expects a HubertConvertError of the given class and code, returns it for message checks. */
export function expectError(fn: () => unknown, cls: new (...args: never[]) => HubertConvertError, code: string): HubertConvertError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(cls);
  expect((caught as HubertConvertError).code).toBe(code);
  return caught as HubertConvertError;
}

/** A fresh temporary folder per test, removed afterwards. */
export function useTempDir(): () => string {
  let dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    dirs = [];
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), 'hc-safetensors-'));
    dirs.push(d);
    return d;
  };
}
