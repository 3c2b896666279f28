// The performance paths of a conversion: the inputs hashed on another thread, and LazyTensor's reused read buffers.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { BufferSource } from '../../src/byte-source.js';
import { convert } from '../../src/convert.js';
import { FileSystemError } from '../../src/errors.js';
import { LazyTensor, TorchStorage } from '../../src/readers/index.js';
import { describeFile, describeFileInBackground } from '../../src/source-info.js';
import { fixture } from '../helpers/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'hubert-io-paths-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const fileSha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('describeFileInBackground', () => {
  test('gives the size and sha256 of the whole file, as describeFile does, and reports reaching the end', async () => {
    const path = fixture('checkpoints/fairseq_large_dictconfig.pt');
    const expected = { file: path, bytes: statSync(path).size, sha256: fileSha256(path) };
    const progress: Array<[number, number]> = [];
    expect(await describeFileInBackground(path, (done, total) => progress.push([done, total])).result).toEqual(expected);
    expect(progress.at(-1)).toEqual([expected.bytes, expected.bytes]);
    expect(describeFile(path)).toEqual(expected);
  });

  test('a file that cannot be read rejects with E_FILE_READ naming it', async () => {
    const missing = join(work, 'no-such.pt');
    const error = await describeFileInBackground(missing).result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileSystemError);
    expect(error).toMatchObject({ code: 'E_FILE_READ' });
    expect((error as Error).message).toContain(`cannot read ${missing} to hash it`);
  });
});

describe('convert reports the sha256 of its inputs', () => {
  test('checkpoint and upstream', async () => {
    const input = fixture('checkpoints/superb_downstream.ckpt');
    const upstream = fixture('checkpoints/s3prl_hubert.pt');
    const { report } = await convert(input, { out: join(work, 'superb'), upstream });
    // named by file name (never the local path), identified by size and sha256
    expect(report.source).toEqual({ file: 'superb_downstream.ckpt', bytes: statSync(input).size, sha256: fileSha256(input), kind: 'superb-downstream' });
    expect(report.upstream).toEqual({ file: 's3prl_hubert.pt', bytes: statSync(upstream).size, sha256: fileSha256(upstream) });
  });
});

describe('LazyTensor read buffers', () => {
  /** Two tensors over one storage of float32 0, 1, 2, …: the first and second half. */
  function halves(numel: number): [LazyTensor, LazyTensor] {
    const bytes = new Uint8Array(numel * 4);
    new Float32Array(bytes.buffer).set(Float32Array.from({ length: numel }, (_, i) => i));
    const storage = new TorchStorage('0', 'F32', numel, 'cpu');
    storage.bind(new BufferSource(bytes), 0);
    return [new LazyTensor(storage, 'F32', [numel / 2], [1], 0), new LazyTensor(storage, 'F32', [numel / 2], [1], numel / 2)];
  }
  const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
  const walk = (t: LazyTensor, chunk: number) => {
    const out: number[] = [];
    for (const c of t.chunks(chunk)) out.push(...new Float32Array(c.slice().buffer));
    return out;
  };

  test('walks that overlap never share a buffer, and later walks reuse one without stale bytes', () => {
    const [a, b] = halves(64);
    const ia = a.chunks(32)[Symbol.iterator]();
    const ib = b.chunks(32)[Symbol.iterator]();
    const got: Record<'a' | 'b', number[]> = { a: [], b: [] };
    for (let step = 0; step < 4; step++) {
      const ca = ia.next().value as Uint8Array;
      const cb = ib.next().value as Uint8Array;
      expect(ca.buffer).not.toBe(cb.buffer);
      got.a.push(...new Float32Array(ca.slice().buffer));
      got.b.push(...new Float32Array(cb.slice().buffer));
    }
    expect([ia.next().done, ib.next().done]).toEqual([true, true]);
    expect(got).toEqual({ a: range(0, 32), b: range(32, 32) });
    // sequential walks after the overlap: each sees only its own values
    expect([walk(b, 24), walk(a, 24), walk(b, 24)]).toEqual([range(32, 32), range(0, 32), range(32, 32)]);
  });

  test('bytes() of a contiguous tensor is a fresh array, unaffected by later reads', () => {
    const [a, b] = halves(32);
    const first = a.bytes();
    walk(b, 8);
    b.bytes();
    expect(Array.from(new Float32Array(first.buffer, first.byteOffset, 16))).toEqual(range(0, 16));
  });
});
