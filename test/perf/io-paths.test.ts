// The performance paths of a conversion: the inputs hashed on another thread, the outputs hashed on another thread
// through a ring of shared slots, LazyTensor's reused read buffers, and no onnxruntime in a plain convert.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { BufferSource } from '../../src/byte-source.js';
import { convert, loadSource } from '../../src/convert.js';
import { FileSystemError } from '../../src/errors.js';
import { startRingHash, SLOT_BYTES } from '../../src/hash-ring.js';
import { hashThreadPolicy } from '../../src/node-files.js';
import { LazyTensor, TorchStorage, readCheckpoint } from '../../src/readers/index.js';
import { describeFile, describeFileInBackground } from '../../src/source-info.js';
import { MemoryTensor, type TensorData } from '../../src/tensor.js';
import { writeShardedSafetensors, writeShardedSafetensorsAsync } from '../../src/writers/disk-safetensors.js';
import { planSafetensors } from '../../src/writers/safetensors.js';
import { CLI, REPO } from '../helpers/cli.js';
import { fixture } from '../helpers/fixtures.js';
import { torchSave } from '../helpers/torch-save.js';

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

/** Runs `body` with every file hashed on another thread, however small (the paths big checkpoints take). */
async function threaded<T>(body: () => Promise<T>): Promise<T> {
  const saved = { ...hashThreadPolicy };
  Object.assign(hashThreadPolicy, { minBytes: 0, outputs: true });
  try {
    return await body();
  } finally {
    Object.assign(hashThreadPolicy, saved);
  }
}

const fileBytes = (dir: string) => Object.fromEntries(readdirSync(dir).filter((f) => f.endsWith('.safetensors')).map((f) => [f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')]));

describe('hashing on other threads gives the same bytes and the same sha256 as hashing in-thread', () => {
  afterEach(() => expect(hashThreadPolicy).toEqual({ minBytes: 64 << 20, outputs: availableParallelism() >= 2 }));

  /** Output order (the reference writer's) against file order: true when some tensor's bytes lie before the previous one's. */
  function outOfFileOrder(input: string): boolean {
    const { conversion, close } = loadSource(input, {});
    try {
      const offsets = planSafetensors(conversion.model.tensors).tensors.map((t) => (t.tensor as LazyTensor).fileOffset!);
      return offsets.some((o, i) => i > 0 && o < offsets[i - 1]!);
    } finally {
      close();
    }
  }

  test('a fairseq checkpoint with dropped tensors, whose tensors are not in file order', async () => {
    const input = fixture('checkpoints/fairseq_large_dictconfig.pt');
    expect(outOfFileOrder(input)).toBe(true);
    const plain = await convert(input, { out: join(work, 'plain') });
    const ours = await threaded(() => convert(input, { out: join(work, 'threaded') }));
    expect(ours.report.dropped.map((d) => d.source)).toEqual(['model/label_embs_concat']);
    // the whole input is hashed, the dropped tensors' bytes and everything between the records included
    expect(ours.report.source).toEqual({ ...plain.report.source, sha256: fileSha256(input) });
    expect(fileBytes(join(work, 'threaded'))).toEqual(fileBytes(join(work, 'plain')));
    const record = ours.report.files.find((f) => f.path === 'model.safetensors')!;
    expect(record).toEqual(plain.report.files.find((f) => f.path === 'model.safetensors'));
    expect(record.sha256).toBe(fileSha256(join(work, 'threaded', 'model.safetensors')));
  });

  test('the same state dict saved in reverse order: the same output file, and the sha256 of this input', async () => {
    const original = fixture('checkpoints/fairseq_base_dict.pt');
    const checkpoint = readCheckpoint(original);
    const model = (checkpoint.root as Map<string, unknown>).get('model') as Map<string, unknown>;
    const reversed = new Map([...model].reverse());
    (checkpoint.root as Map<string, unknown>).set('model', reversed);
    const input = join(work, 'reversed.pt');
    writeFileSync(input, torchSave(checkpoint.root));
    checkpoint.close();
    expect(outOfFileOrder(input)).toBe(true);
    const plain = await convert(original, { out: join(work, 'original') });
    const ours = await threaded(() => convert(input, { out: join(work, 'reversed') }));
    expect(ours.report.source.sha256).toBe(fileSha256(input));
    expect(ours.report.source.sha256).not.toBe(plain.report.source.sha256);
    expect(fileBytes(join(work, 'reversed'))).toEqual(fileBytes(join(work, 'original')));
    expect(ours.report.files.find((f) => f.path === 'model.safetensors')!.sha256).toBe(fileSha256(join(work, 'original', 'model.safetensors')));
  });

  test('ONNX graphs (inline and external data) hashed on the thread: the same files and the sha256 of their bytes', async () => {
    const input = fixture('checkpoints/fairseq_large_dictconfig.pt');
    const options = { onnx: ['fp32', 'fp16', 'q8'] as ('fp32' | 'fp16' | 'q8')[], externalData: true };
    const plain = await convert(input, { out: join(work, 'onnx-plain'), ...options });
    const ours = await threaded(() => convert(input, { out: join(work, 'onnx-threaded'), ...options }));
    const onnxFiles = (r: typeof plain) => r.report.files.filter((f) => f.path.startsWith('onnx/'));
    expect(onnxFiles(ours).map((f) => f.path).sort()).toEqual(['onnx/model.onnx', 'onnx/model.onnx_data', 'onnx/model_fp16.onnx', 'onnx/model_fp16.onnx_data', 'onnx/model_quantized.onnx', 'onnx/model_quantized.onnx_data']);
    expect(onnxFiles(ours)).toEqual(onnxFiles(plain));
    for (const f of onnxFiles(ours)) expect(f.sha256).toBe(fileSha256(join(work, 'onnx-threaded', f.path)));
  });

  test('a downstream head and its upstream, written as shards', async () => {
    const input = fixture('checkpoints/superb_downstream.ckpt');
    const upstream = fixture('checkpoints/s3prl_hubert.pt');
    const plain = await convert(input, { out: join(work, 'shards-plain'), upstream, maxShardSize: '100kB' });
    const ours = await threaded(() => convert(input, { out: join(work, 'shards-threaded'), upstream, maxShardSize: '100kB' }));
    expect(Object.keys(fileBytes(join(work, 'shards-threaded'))).length).toBeGreaterThan(1);
    expect(fileBytes(join(work, 'shards-threaded'))).toEqual(fileBytes(join(work, 'shards-plain')));
    expect([ours.report.source.sha256, ours.report.upstream!.sha256]).toEqual([fileSha256(input), fileSha256(upstream)]);
    // README.md names the output folder, which differs here
    const withoutCard = (files: typeof plain.report.files) => files.filter((f) => f.path !== 'README.md');
    expect(withoutCard(ours.report.files)).toEqual(withoutCard(plain.report.files));
  });
});

describe('the safetensors writer over a hashing ring', () => {
  /** A storage of `n` patterned bytes over a buffer source, and tensors over it. */
  function storageOf(n: number, seed: number): TorchStorage {
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = (i * 131 + seed * 7 + (i >> 11)) & 0xff;
    const storage = new TorchStorage(String(seed), 'F32', n / 4, 'cpu');
    storage.bind(new BufferSource(bytes), 0);
    return storage;
  }

  test('contiguous, strided and in-memory tensors over many slots: the bytes and sha256 of the in-thread writer', async () => {
    const rows = 1536;
    const cols = 1024;
    const tensors: Array<[string, TensorData]> = [
      // 6 MiB read straight into the slots, wrapping the ring
      ['a.contiguous', new LazyTensor(storageOf(rows * cols * 4, 1), 'F32', [rows, cols], [cols, 1], 0)],
      // a transposed view: gathered by chunks(), then copied into slots
      ['b.transposed', new LazyTensor(storageOf(rows * cols * 4, 2), 'F32', [cols, rows], [1, cols], 0)],
      // a view that starts inside its storage and ends before its end
      ['c.narrowed', new LazyTensor(storageOf(SLOT_BYTES * 3, 3), 'F32', [SLOT_BYTES / 2 + 3], [1], 1000)],
      ['d.memory', new MemoryTensor('F32', [5], new Uint8Array(20).fill(9))],
      ['e.empty', new LazyTensor(storageOf(16, 4), 'F32', [0, 4], [4, 1], 0)],
    ];
    for (const maxShardBytes of [1e9, 7e6]) {
      const plainDir = join(work, `ring-plain-${maxShardBytes}`);
      const ringDir = join(work, `ring-${maxShardBytes}`);
      const plain = writeShardedSafetensors(plainDir, tensors, { maxShardBytes });
      const ring = await threaded(() => writeShardedSafetensorsAsync(ringDir, tensors, { maxShardBytes }));
      expect(ring.files.length).toBe(maxShardBytes === 1e9 ? 1 : 3);
      expect(fileBytes(ringDir)).toEqual(fileBytes(plainDir));
      expect(ring.files.map((f) => [f.bytes, f.sha256])).toEqual(plain.files.map((f) => [f.bytes, f.sha256]));
      for (const f of ring.files) expect(f.sha256).toBe(fileSha256(f.path));
    }
  });

  test('startRingHash: slots filled in place and bytes copied in, across many wraps, hash as one stream', async () => {
    const ring = startRingHash('test stream');
    const expected = createHash('sha256');
    for (let i = 0; i < 40; i++) {
      const length = (i * 7919) % SLOT_BYTES || 1;
      if (i % 3 === 0) {
        const bytes = new Uint8Array(length * 2 + 5).map((_, k) => (k + i) & 0xff);
        ring.push(bytes);
        expected.update(bytes);
      } else {
        const slot = ring.slot(length);
        for (let k = 0; k < length; k++) slot[k] = (k * i) & 0xff;
        expected.update(slot);
        ring.push(slot);
      }
    }
    expect(await ring.digest()).toBe(expected.digest('hex'));
  });

  test('a slot larger than the ring holds is a programming error, not a silent short hash', () => {
    const ring = startRingHash('test stream');
    expect(() => ring.slot(SLOT_BYTES + 1)).toThrow(expect.objectContaining({ code: 'E_INTERNAL_RING_SLOT' }));
    ring.cancel();
  });
});

describe('a plain convert never loads onnxruntime', () => {
  // preloaded into the CLI: records every native addon the process loads (onnxruntime is one: onnxruntime_binding.node)
  const hook = join(work, 'record-dlopen.cjs');
  writeFileSync(
    hook,
    `const fs = require('node:fs'); const loaded = []; const dlopen = process.dlopen;
process.dlopen = function (module, file, ...rest) { loaded.push(file); return dlopen.call(this, module, file, ...rest); };
process.on('exit', () => fs.writeFileSync(process.env.DLOPEN_LOG, JSON.stringify(loaded)));\n`,
  );
  const run = (args: string[]) => {
    const log = join(work, `dlopen-${Math.random().toString(36).slice(2)}.json`);
    const r = spawnSync(process.execPath, ['-r', hook, ...args], { cwd: REPO, encoding: 'utf8', env: { ...process.env, DLOPEN_LOG: log } });
    return { status: r.status, stderr: r.stderr, loaded: JSON.parse(readFileSync(log, 'utf8')) as string[] };
  };

  test('convert, inspect and --version load no native addon; loading onnxruntime is seen by the same hook', () => {
    const input = fixture('checkpoints/fairseq_large_dictconfig.pt');
    for (const args of [['convert', input, '--out', join(work, 'no-ort'), '--quiet'], ['inspect', input, '--json'], ['--version']]) {
      const r = run([CLI, ...args]);
      expect([args[0], r.status, r.stderr]).toEqual([args[0], 0, '']);
      expect([args[0], r.loaded.filter((f) => /onnxruntime/i.test(f))]).toEqual([args[0], []]);
    }
    const control = run(['-e', "require('onnxruntime-node')"]);
    expect(control.status).toBe(0);
    expect(control.loaded.some((f) => /onnxruntime/i.test(f))).toBe(true);
  });
});
