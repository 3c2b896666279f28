import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CorruptInputError, FileSystemError } from '../../src/errors.js';
import { openHfWeightFiles, openHfWeights, readSafetensorsIndex } from '../../src/readers/hf-folder.js';
import { MemoryTensor, type TensorData } from '../../src/tensor.js';
import { writeSafetensors } from '../../src/writers/disk-safetensors.js';
import { planShards } from '../../src/writers/safetensors-sharded.js';
import { writeShardedSafetensors, writeShardedSafetensorsAsync } from '../../src/writers/disk-safetensors.js';
import { DATA_DIR, expectError, hex, memoryTensors, referenceListing, useTempDir } from './helpers.js';

const tempDir = useTempDir();

function u8(name: string, n: number): [string, TensorData] {
  return [name, new MemoryTensor('U8', [n], new Uint8Array(n).map((_, i) => (i * 7 + name.length) & 0xff))];
}

describe('planShards follows huggingface_hub', () => {
  test('greedy in order; a tensor over the limit gets its own shard where it was met', () => {
    // the hub docstring example: limit 10, sizes [6, 6, 2, 6, 2, 2] → [6], [6+2], [6+2+2]
    const sizes = [6, 6, 2, 6, 2, 2];
    const shards = planShards(sizes.map((s, i) => u8(`t${i}`, s)), 10);
    expect(shards.map((s) => s.map(([n]) => n))).toEqual([['t0'], ['t1', 't2'], ['t3', 't4', 't5']]);
    // a 15-byte tensor is pushed as its own shard before the shard still being filled
    const big = planShards([u8('a', 4), u8('big', 15), u8('b', 4), u8('c', 4)], 10);
    expect(big.map((s) => s.map(([n]) => n))).toEqual([['big'], ['a', 'b'], ['c']]);
  });
});

describe('byte-identical to huggingface_hub split + save_file + transformers index (data/reference_sharded)', () => {
  test('same tensors in the same order → the same shard files and index, byte for byte', () => {
    const listing = referenceListing('reference_sharded') as ReturnType<typeof referenceListing> & { maxShardBytes: number };
    const dir = tempDir();
    const result = writeShardedSafetensors(dir, memoryTensors(listing), { maxShardBytes: listing.maxShardBytes });
    const expectedDir = join(DATA_DIR, 'reference_sharded');
    expect(readdirSync(dir).sort()).toEqual(readdirSync(expectedDir).sort());
    for (const name of readdirSync(expectedDir)) expect([name, hex(readFileSync(join(dir, name)))]).toEqual([name, hex(readFileSync(join(expectedDir, name)))]);
    expect(result.files.map((f) => basename(f.path))).toEqual(['model-00001-of-00004.safetensors', 'model-00002-of-00004.safetensors', 'model-00003-of-00004.safetensors', 'model-00004-of-00004.safetensors']);
  });

  test('openHfWeights reads the reference folder bit-exact', () => {
    const listing = referenceListing('reference_sharded');
    const weights = openHfWeights(join(DATA_DIR, 'reference_sharded'));
    expect([...weights.keys()].sort()).toEqual(listing.tensors.map((t) => t.name).sort());
    for (const t of listing.tensors) expect([t.name, weights.get(t.name)!.dtype, hex(weights.get(t.name)!.bytes())]).toEqual([t.name, t.dtype, t.hex]);
  });
});

describe('writeShardedSafetensors', () => {
  test('everything fits: one model.safetensors, no index', () => {
    const dir = tempDir();
    const result = writeShardedSafetensors(dir, [u8('a', 5), u8('b', 5)], { maxShardBytes: '10B' });
    expect(result.index).toBeUndefined();
    expect(result.files.map((f) => f.path)).toEqual([join(dir, 'model.safetensors')]);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  test('split: shard files, index contents exact, every tensor read back from its shard', () => {
    const dir = tempDir();
    const tensors = [u8('layer.1', 6), u8('layer.0', 6), u8('bias', 2), u8('x', 6), u8('y', 2), u8('z', 2)];
    const progress: number[] = [];
    const result = writeShardedSafetensors(dir, tensors, { maxShardBytes: 10, onProgress: (d, t) => progress.push(t - d) });
    const names = ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors'];
    expect(result.files.map((f) => f.path)).toEqual(names.map((n) => join(dir, n)));
    expect(result.index).toBe(join(dir, 'model.safetensors.index.json'));
    expect(readFileSync(result.index!, 'utf8')).toBe(
      '{\n  "metadata": {\n    "total_size": 24\n  },\n  "weight_map": {\n' +
        '    "bias": "model-00002-of-00003.safetensors",\n    "layer.0": "model-00002-of-00003.safetensors",\n' +
        '    "layer.1": "model-00001-of-00003.safetensors",\n    "x": "model-00003-of-00003.safetensors",\n' +
        '    "y": "model-00003-of-00003.safetensors",\n    "z": "model-00003-of-00003.safetensors"\n  }\n}\n',
    );
    expect(progress.at(-1)).toBe(0); // the last report says everything is written
    for (const f of result.files) expect(f.bytes).toBe(readFileSync(f.path).byteLength);
    const weights = openHfWeightFiles(dir);
    expect(weights.files.length).toBe(3);
    for (const [name, t] of tensors) expect(hex(weights.tensors.get(name)!.bytes())).toBe(hex(t.bytes()));
    expect(weights.files.every((f) => f.metadata?.['format'] === 'pt')).toBe(true);
    weights.close();
  });

  test('async variant writes the same files', async () => {
    const a = tempDir();
    const b = tempDir();
    const tensors = [u8('p', 6), u8('q', 6), u8('r', 6)];
    const sync = writeShardedSafetensors(a, tensors, { maxShardBytes: '0.01KB' });
    const async = await writeShardedSafetensorsAsync(b, tensors, { maxShardBytes: 10 });
    expect(async.files.map((f) => f.sha256)).toEqual(sync.files.map((f) => f.sha256));
    expect(readFileSync(async.index!, 'utf8')).toBe(readFileSync(sync.index!, 'utf8'));
  });

  test('a single tensor over the limit is still one model.safetensors (one shard, as the hub does)', () => {
    const dir = tempDir();
    expect(writeShardedSafetensors(dir, [u8('huge', 50)], { maxShardBytes: 10 }).index).toBeUndefined();
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(true);
  });
});

describe('openHfWeights validation', () => {
  function sharded(): string {
    const dir = tempDir();
    writeShardedSafetensors(dir, [u8('a', 6), u8('b', 6)], { maxShardBytes: 10 });
    return dir;
  }
  const indexPath = (dir: string) => join(dir, 'model.safetensors.index.json');
  const rewriteIndex = (dir: string, weightMap: Record<string, string>) =>
    writeFileSync(indexPath(dir), JSON.stringify({ metadata: { total_size: 12 }, weight_map: weightMap }));
  const S1 = 'model-00001-of-00002.safetensors';
  const S2 = 'model-00002-of-00002.safetensors';

  test('the index as read', () => {
    const index = readSafetensorsIndex(sharded())!;
    expect(index.metadata).toEqual({ total_size: 12 });
    expect([...index.weightMap]).toEqual([['a', S1], ['b', S2]]);
    expect(index.shards).toEqual([S1, S2]);
    expect(readSafetensorsIndex(tempDir())).toBeNull();
  });

  test('a single model.safetensors', () => {
    const dir = tempDir();
    writeSafetensors(join(dir, 'model.safetensors'), [u8('w', 3)]);
    expect([...openHfWeights(dir).keys()]).toEqual(['w']);
  });

  test('no weights at all', () => {
    const dir = tempDir();
    const e = expectError(() => openHfWeights(dir), FileSystemError, 'E_HF_WEIGHTS_MISSING');
    expect(e.message).toBe(`${dir}: neither model.safetensors nor model.safetensors.index.json exists; is this a Hugging Face model folder saved with safetensors?`);
  });

  test('a missing shard', () => {
    const dir = sharded();
    rmSync(join(dir, S2));
    expect(expectError(() => openHfWeights(dir), FileSystemError, 'E_SAFETENSORS_SHARD_MISSING').message).toBe(`${indexPath(dir)} lists shard ${S2}, which is not in ${dir}`);
  });

  test('a tensor in another shard than the index says', () => {
    const dir = sharded();
    rewriteIndex(dir, { a: S2, b: S1 });
    const e = expectError(() => openHfWeights(dir), CorruptInputError, 'E_SAFETENSORS_INDEX_MISMATCH');
    expect(e.message).toBe(`${join(dir, S2)}: holds tensor "b" but ${indexPath(dir)} says it is in ${S1}`);
  });

  test('a tensor the index does not list', () => {
    const dir = sharded();
    writeSafetensors(join(dir, S1), [u8('a', 6), u8('extra', 1)]);
    const e = expectError(() => openHfWeights(dir), CorruptInputError, 'E_SAFETENSORS_INDEX_MISMATCH');
    expect(e.message).toBe(`${join(dir, S1)}: holds tensor "extra" but ${indexPath(dir)} does not list it`);
  });

  test('a listed tensor its shard does not hold', () => {
    const dir = sharded();
    rewriteIndex(dir, { a: S1, b: S2, c: S2 });
    const e = expectError(() => openHfWeights(dir), CorruptInputError, 'E_SAFETENSORS_INDEX_MISMATCH');
    expect(e.message).toBe(`${indexPath(dir)} says tensor "c" is in ${S2}, but that shard does not hold it`);
  });

  test('a tensor in two shards', () => {
    const dir = sharded();
    writeSafetensors(join(dir, S2), [u8('a', 6), u8('b', 6)]);
    const e = expectError(() => openHfWeights(dir), CorruptInputError, 'E_SAFETENSORS_DUPLICATE_TENSOR');
    expect(e.message).toBe(`${join(dir, S2)}: tensor "a" also appears in another shard`);
  });

  test('hostile or malformed index files', () => {
    const dir = sharded();
    rewriteIndex(dir, { a: '../elsewhere.safetensors' });
    expect(expectError(() => openHfWeights(dir), CorruptInputError, 'E_SAFETENSORS_INDEX').message).toBe(
      `${indexPath(dir)}: weight_map["a"] = "../elsewhere.safetensors" is not a file name inside the folder`,
    );
    writeFileSync(indexPath(dir), `{"weight_map":{"a":"${S1}","a":"${S2}"}}`);
    expect(expectError(() => openHfWeights(dir), CorruptInputError, 'E_SAFETENSORS_INDEX').message).toBe(`${indexPath(dir)}: key "a" appears twice`);
    writeFileSync(indexPath(dir), '{"weight_map":[]}');
    expectError(() => openHfWeights(dir), CorruptInputError, 'E_SAFETENSORS_INDEX');
    writeFileSync(indexPath(dir), '{"weight_map":');
    expectError(() => openHfWeights(dir), CorruptInputError, 'E_SAFETENSORS_INDEX');
  });
});
