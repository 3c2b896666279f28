import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { DTYPE_SIZE, type DType } from '../../src/dtype.js';
import { HubertConvertError, UsageError } from '../../src/errors.js';
import { readSafetensors } from '../../src/readers/disk-safetensors.js';
import { DEFAULT_CHUNK_BYTES, MemoryTensor, type TensorData } from '../../src/tensor.js';
import { writeSafetensors, writeSafetensorsAsync } from '../../src/writers/disk-safetensors.js';
import { DATA_DIR, expectError, hex, memoryTensors, referenceListing, useTempDir } from './helpers.js';

const tempDir = useTempDir();
const ALL: DType[] = ['BOOL', 'U8', 'I8', 'I16', 'F16', 'BF16', 'I32', 'F32', 'F64', 'I64'];

function patterned(dtype: DType, shape: number[], seed: number): MemoryTensor {
  const n = shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[dtype];
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = dtype === 'BOOL' ? (i + seed) % 2 : (i * 37 + seed * 11) & 0xff;
  return new MemoryTensor(dtype, shape, bytes);
}

describe('byte-identical to safetensors.torch.save_file', () => {
  for (const name of ['reference_all_dtypes', 'reference_no_metadata', 'casts']) {
    test(`${name}: same tensors and metadata → same file bytes, in any input order`, () => {
      const listing = referenceListing(name);
      const expected = readFileSync(join(DATA_DIR, `${name}.safetensors`));
      for (const order of ['as-listed', 'reversed']) {
        const tensors = memoryTensors(listing);
        if (order === 'reversed') tensors.reverse();
        const path = join(tempDir(), 'out.safetensors');
        const written = writeSafetensors(path, tensors, { metadata: listing.metadata });
        const got = readFileSync(path);
        expect(hex(got)).toBe(hex(expected));
        expect(written).toEqual({ path, bytes: expected.byteLength, sha256: createHash('sha256').update(expected).digest('hex') });
      }
    });
  }
});

describe('round trip', () => {
  test('every dtype, scalars and zero-size tensors, bytes equal, metadata default {"format":"pt"}', () => {
    const tensors: Array<[string, TensorData]> = [];
    ALL.forEach((dtype, i) => {
      tensors.push([`${dtype}.matrix`, patterned(dtype, [3, 5], i)]);
      tensors.push([`${dtype}.scalar`, patterned(dtype, [], i + 1)]);
      tensors.push([`${dtype}.empty`, patterned(dtype, [4, 0, 2], i)]);
    });
    const path = join(tempDir(), 'rt.safetensors');
    const written = writeSafetensors(path, tensors);
    const file = readSafetensors(path);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(file.dataStart % 8).toBe(0);
    expect(file.tensors.size).toBe(tensors.length);
    for (const [name, t] of tensors) {
      const got = file.tensors.get(name)!;
      expect([name, got.dtype, got.shape]).toEqual([name, t.dtype, t.shape]);
      expect(hex(got.bytes())).toBe(hex(t.bytes()));
    }
    file.close();
    expect(written.bytes).toBe(readFileSync(path).byteLength);
    expect(written.sha256).toBe(createHash('sha256').update(readFileSync(path)).digest('hex'));
  });

  test('order: dtype rank descending (I64 F64 F32 I32 BF16 F16 I16 I8 U8 BOOL), then names by UTF-8 bytes', () => {
    const tensors: Array<[string, TensorData]> = ALL.map((dtype, i) => [`t${i}`, patterned(dtype, [1], i)]);
    tensors.push(['\u{1F600}', patterned('F32', [1], 0)], ['\uFFFD', patterned('F32', [1], 0)], ['B', patterned('F32', [1], 0)], ['a', patterned('F32', [1], 0)]);
    const path = join(tempDir(), 'o.safetensors');
    writeSafetensors(path, tensors, { metadata: null });
    const file = readSafetensors(path);
    expect([...file.tensors.values()].map((t) => `${t.dtype}:${t.name}`)).toEqual([
      'I64:t9', 'F64:t8', 'F32:B', 'F32:a', 'F32:t7', 'F32:\uFFFD', 'F32:\u{1F600}', 'I32:t6', 'BF16:t5', 'F16:t4', 'I16:t3', 'I8:t2', 'U8:t1', 'BOOL:t0',
    ]);
    expect(file.metadata).toBeNull();
  });

  test('metadata keys are written sorted; header is space-padded to a multiple of 8', () => {
    const path = join(tempDir(), 'm.safetensors');
    writeSafetensors(path, [['x', patterned('U8', [3], 0)]], { metadata: { format: 'pt', b: '2', a: '1' } });
    const bytes = readFileSync(path);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const text = bytes.subarray(8, 8 + n).toString('utf8');
    expect(text.trimEnd()).toBe('{"__metadata__":{"a":"1","b":"2","format":"pt"},"x":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}');
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
  });
});

describe('streaming', () => {
  /** A tensor that generates its bytes chunk by chunk and counts how big a chunk it was asked for. */
  function generated(byteLength: number): TensorData & { largestAsk: number } {
    const t = {
      dtype: 'F32' as const,
      shape: [byteLength / 4],
      byteLength,
      largestAsk: 0,
      bytes(): Uint8Array {
        throw new Error('the writer must not ask for all bytes at once');
      },
      *chunks(maxBytes = DEFAULT_CHUNK_BYTES) {
        t.largestAsk = Math.max(t.largestAsk, maxBytes);
        const buffer = new Uint8Array(Math.min(maxBytes, byteLength));
        for (let at = 0; at < byteLength; at += buffer.byteLength) {
          const n = Math.min(buffer.byteLength, byteLength - at);
          // every MiB of the tensor has its own byte value
          for (let m = 0; m < n; m += 1 << 20) buffer.fill(((at + m) >>> 20) & 0xff, m, Math.min(n, m + (1 << 20)));
          yield buffer.subarray(0, n);
        }
      },
    };
    return t;
  }

  test('bytes come from chunks() (never bytes()), progress is monotone and ends at the file size', async () => {
    const big = generated(20 << 20);
    const path = join(tempDir(), 's.safetensors');
    const progress: Array<[number, number]> = [];
    const written = await writeSafetensorsAsync(path, [['big', big]], { onProgress: (d, t) => progress.push([d, t]) });
    expect(big.largestAsk).toBeLessThanOrEqual(16 << 20);
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.every(([d], i) => i === 0 || d > progress[i - 1]![0])).toBe(true);
    expect(progress.at(-1)).toEqual([written.bytes, written.bytes]);
    const file = readSafetensors(path);
    const back = file.tensors.get('big')!;
    let ok = true;
    let at = 0;
    for (const c of back.chunks(1 << 20)) {
      if (c.byteLength !== 1 << 20 || c.some((v) => v !== ((at >>> 20) & 0xff))) ok = false;
      at += c.byteLength;
    }
    expect([ok, at]).toEqual([true, 20 << 20]);
    file.close();
  });

  test('a tensor whose chunks give the wrong number of bytes fails and leaves no file', () => {
    const dir = tempDir();
    const liar: TensorData = { dtype: 'U8', shape: [4], byteLength: 4, bytes: () => new Uint8Array(4), *chunks() { yield new Uint8Array(3); } };
    const e = expectError(() => writeSafetensors(join(dir, 'x.safetensors'), [['liar', liar]]), HubertConvertError, 'E_SAFETENSORS_WRITE_SIZE');
    expect(e.kind).toBe('internal');
    expect(e.message).toBe('tensor "liar": its chunks did not produce exactly 4 bytes');
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('rejected inputs', () => {
  const dir = () => tempDir();
  test('duplicate names', () => {
    const e = expectError(() => writeSafetensors(join(dir(), 'd.safetensors'), [['a', patterned('U8', [1], 0)], ['a', patterned('U8', [1], 1)]]), UsageError, 'E_SAFETENSORS_DUPLICATE_NAME');
    expect(e.message).toBe('tensor "a" is given twice; each name may appear once in a safetensors file');
  });
  test('empty, __metadata__ and lone-surrogate names', () => {
    for (const name of ['', '__metadata__', 'bad\ud800']) {
      const e = expectError(() => writeSafetensors(join(dir(), 'n.safetensors'), [[name, patterned('U8', [1], 0)]]), UsageError, 'E_SAFETENSORS_TENSOR_NAME');
      expect(e.message).toContain('names must be non-empty Unicode strings other than "__metadata__"');
    }
  });
  test('a tensor whose byteLength does not match its shape, an unknown dtype, non-string metadata', () => {
    const wrong: TensorData = { dtype: 'F32', shape: [2], byteLength: 4, bytes: () => new Uint8Array(4), chunks: () => [] };
    expectError(() => writeSafetensors(join(dir(), 'w.safetensors'), [['w', wrong]]), UsageError, 'E_SAFETENSORS_TENSOR_SIZE');
    const odd = { ...wrong, dtype: 'U16' } as unknown as TensorData;
    expectError(() => writeSafetensors(join(dir(), 'w.safetensors'), [['w', odd]]), UsageError, 'E_SAFETENSORS_DTYPE');
    const meta = { format: 1 } as unknown as Record<string, string>;
    expectError(() => writeSafetensors(join(dir(), 'w.safetensors'), [], { metadata: meta }), UsageError, 'E_SAFETENSORS_METADATA');
  });
});
