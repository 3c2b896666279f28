import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSource } from '../../src/convert.js';
import { openHfWeightFiles } from '../../src/readers/hf-folder.js';
import { writeShardedSafetensors } from '../../src/writers/disk-safetensors.js';
import { describe, expect, test } from 'vitest';
import { BufferSource } from '../../src/byte-source.js';
import { HubertConvertError } from '../../src/errors.js';
import { ALLOWED, type GlobalUse, entryDataOffset, readCheckpoint, readZipEntries, toPlainJson, unpickle } from '../../src/readers/index.js';
import { mulberry32 as prng } from '../../src/prng.js';
import { concat } from '../helpers/bytes.js';

const CHECKPOINTS = join(import.meta.dirname, '../../fixtures/checkpoints');
const HOSTILE = join(import.meta.dirname, '../../fixtures/hostile');

/** A read that succeeded named only allow-listed globals: no mutation smuggles another name past the list. */
function expectOnlyAllowed(globals: Map<string, GlobalUse>, label: string): void {
  for (const [name, use] of globals) {
    expect(ALLOWED.has(name), `${label}: ${name}`).toBe(true);
    expect(use.handling, `${label}: ${name}`).not.toBe('user-allowed');
  }
}


function mutate(input: Uint8Array, random: () => number, focus = input.length): Uint8Array {
  const int = (n: number): number => Math.floor(random() * n);
  let bytes: Uint8Array = new Uint8Array(input);
  const edits = 1 + int(4);
  for (let e = 0; e < edits; e++) {
    const at = int(Math.min(focus, bytes.length) || 1);
    switch (int(7)) {
      case 0: bytes[at] = int(256); break;
      case 1: bytes[at] = (bytes[at] ?? 0) ^ (1 << int(8)); break;
      case 2: bytes = concat(bytes.subarray(0, at), Uint8Array.of(int(256)), bytes.subarray(at)); break;
      case 3: bytes = concat(bytes.subarray(0, at), bytes.subarray(at + 1 + int(16))); break;
      case 4: bytes.fill(0xff, at, at + 1 + int(8)); break; // huge length fields
      case 5: bytes = bytes.subarray(0, at); break; // truncation
      default: { // duplicate a slice (repeated opcodes, memo reuse)
        const len = 1 + int(32);
        bytes = concat(bytes.subarray(0, at + len), bytes.subarray(at, at + len), bytes.subarray(at + len));
      }
    }
  }
  return bytes;
}

function dataPkl(file: string, dir = CHECKPOINTS): Uint8Array {
  const source = new BufferSource(readFileSync(join(dir, file)));
  const entry = readZipEntries(source).find((e) => e.name.endsWith('/data.pkl'))!;
  return new Uint8Array(source.read(entryDataOffset(source, entry), entry.size));
}

/** Resident memory may grow by at most this much over a fuzz run (a case that allocates out of proportion fails). */
const MAX_RSS_GROWTH = 300 << 20;
const baselineRss = process.memoryUsage.rss();

/** Runs `fn`; it must return normally or throw a HubertConvertError, within `budgetMs` and the memory bound. */
function expectTyped(fn: () => void, label: string, budgetMs = 1000): 'ok' | 'error' {
  const started = performance.now();
  let outcome: 'ok' | 'error' = 'ok';
  try {
    fn();
  } catch (e) {
    if (!(e instanceof HubertConvertError)) throw new Error(`${label}: ${String(e)}`, { cause: e });
    outcome = 'error';
  }
  expect(performance.now() - started, label).toBeLessThan(budgetMs);
  expect(process.memoryUsage.rss() - baselineRss, `${label}: resident memory`).toBeLessThan(MAX_RSS_GROWTH);
  return outcome;
}

describe('fuzz: mutated real pickles end in a value or a typed error, never a hang', () => {
  const seeds = [
    ['fairseq_large_dictconfig.pt', 1, 500], ['fairseq_base_dict.pt', 2, 800], ['distilhubert.ckpt', 3, 500], ['superb_downstream.ckpt', 4, 1200],
  ] as const;
  for (const [file, seed, iterations] of seeds) {
    test(`${file}: ${iterations} mutations of data.pkl`, () => {
      const original = dataPkl(file);
      const random = prng(seed);
      const outcomes = { ok: 0, error: 0 };
      for (let i = 0; i < iterations; i++) {
        const bytes = mutate(original, random);
        const globals = new Map<string, GlobalUse>();
        const label = `${file} seed ${seed} iteration ${i}`;
        const outcome = expectTyped(() => toPlainJson(unpickle(bytes, { globals })), label);
        if (outcome === 'ok') expectOnlyAllowed(globals, label);
        outcomes[outcome]++;
      }
      expect(outcomes.error).toBeGreaterThan(0);
    });
  }

  test('mutated global names (GLOBAL lines of a protocol-2 pickle) are refused or still name an allow-listed global', () => {
    const original = dataPkl('fairseq_large_dictconfig.pt');
    // offsets of the module/name text of every GLOBAL opcode ('c' module \n name \n)
    const text = new TextDecoder('latin1').decode(original);
    const spans: Array<[number, number]> = [];
    for (const m of text.matchAll(/c([\w.]+)\n([\w.]+)\n/g)) spans.push([m.index + 1, m.index + m[0].length - 1]);
    expect(spans.length).toBeGreaterThan(10);
    const random = prng(7);
    const outcomes = { ok: 0, error: 0 };
    for (let i = 0; i < 400; i++) {
      const bytes = new Uint8Array(original);
      const [from, to] = spans[Math.floor(random() * spans.length)]!;
      for (let e = 0; e < 1 + Math.floor(random() * 3); e++) {
        const at = from + Math.floor(random() * (to - from));
        // dots, whitespace, control characters, letters: the spellings a name check must judge
        bytes[at] = [0x2e, 0x20, 0x07, 0x5f, 0x61 + Math.floor(random() * 26), Math.floor(random() * 256)][Math.floor(random() * 6)]!;
      }
      const globals = new Map<string, GlobalUse>();
      const label = `name mutation ${i}`;
      const outcome = expectTyped(() => toPlainJson(unpickle(bytes, { globals })), label);
      if (outcome === 'ok') expectOnlyAllowed(globals, label);
      outcomes[outcome]++;
    }
    expect(outcomes.error).toBeGreaterThan(300);
  });

  test('mutations of the hostile allow-list corpus never read a global outside the allow-list', () => {
    const random = prng(2024);
    const corpus = readdirSync(HOSTILE).filter((f) => f.startsWith('unsafe_') && /\.(pt|pkl)$/.test(f) && !f.includes('legacy'));
    expect(corpus.length).toBeGreaterThan(30);
    for (const file of corpus) {
      const original = file.endsWith('.pkl') ? new Uint8Array(readFileSync(join(HOSTILE, file))) : dataPkl(file, HOSTILE);
      for (let i = 0; i < 25; i++) {
        const bytes = mutate(original, random);
        const globals = new Map<string, GlobalUse>();
        const label = `${file} iteration ${i}`;
        if (expectTyped(() => toPlainJson(unpickle(bytes, { globals })), label) === 'ok') expectOnlyAllowed(globals, label);
      }
    }
  });

  test('whole-file mutations of a zip and a legacy checkpoint (header-heavy), reading every tensor', () => {
    const random = prng(99);
    for (const file of ['superb_downstream.ckpt', 'fairseq_base_legacy.pt']) {
      const original = new Uint8Array(readFileSync(join(CHECKPOINTS, file)));
      for (let i = 0; i < 150; i++) {
        // mutate the front (legacy pickles) or the back (zip central directory) more often than tensor data
        const bytes = mutate(original, random, random() < 0.5 ? 4096 : original.length);
        expectTyped(() => {
          const c = readCheckpoint(bytes);
          for (const t of c.tensors) t.tensor.bytes();
          toPlainJson(c.root);
          expectOnlyAllowed(new Map(c.globals.map((g) => [g.name, g])), `${file} iteration ${i}`);
        }, `${file} iteration ${i}`);
      }
    }
  });
});

describe('fuzz: mutated Hugging Face folder sources (config.json, index, safetensors header)', () => {
  const HF = join(import.meta.dirname, '../../fixtures/hf/fairseq_base_dict');
  const work = mkdtempSync(join(tmpdir(), 'fuzz-folder-'));
  const readAll = (dir: string) => () => {
    const { conversion, close } = loadSource(dir, {});
    try {
      for (const t of conversion.model.tensors.values()) t.bytes();
    } finally {
      close();
    }
  };

  test('config.json and preprocessor_config.json: 300 mutations', () => {
    const dir = join(work, 'config');
    cpSync(HF, dir, { recursive: true });
    const random = prng(7);
    const outcomes = { ok: 0, error: 0 };
    for (const file of ['config.json', 'preprocessor_config.json']) {
      const original = new Uint8Array(readFileSync(join(HF, file)));
      for (let i = 0; i < 150; i++) {
        writeFileSync(join(dir, file), mutate(original, random));
        outcomes[expectTyped(readAll(dir), `${file} iteration ${i}`)]++;
      }
      writeFileSync(join(dir, file), original);
    }
    expect(outcomes.error).toBeGreaterThan(0);
  });

  test('model.safetensors header: 200 mutations of the first bytes, reading every tensor', () => {
    const dir = join(work, 'header');
    cpSync(HF, dir, { recursive: true });
    const original = new Uint8Array(readFileSync(join(HF, 'model.safetensors')));
    const headerEnd = 8 + Number(new DataView(original.buffer).getBigUint64(0, true));
    const random = prng(8);
    const outcomes = { ok: 0, error: 0 };
    for (let i = 0; i < 200; i++) {
      writeFileSync(join(dir, 'model.safetensors'), mutate(original, random, headerEnd));
      outcomes[expectTyped(readAll(dir), `model.safetensors iteration ${i}`)]++;
    }
    expect(outcomes.error).toBeGreaterThan(0);
  });

  test('model.safetensors.index.json of a sharded folder: 200 mutations', () => {
    const dir = join(work, 'sharded');
    cpSync(HF, dir, { recursive: true });
    rmSync(join(dir, 'model.safetensors'));
    const weights = openHfWeightFiles(HF);
    try {
      writeShardedSafetensors(dir, weights.tensors, { maxShardBytes: 40_000 });
    } finally {
      weights.close();
    }
    const indexPath = join(dir, 'model.safetensors.index.json');
    const original = new Uint8Array(readFileSync(indexPath));
    expect(() => readAll(dir)()).not.toThrow();
    const random = prng(9);
    const outcomes = { ok: 0, error: 0 };
    for (let i = 0; i < 200; i++) {
      writeFileSync(indexPath, mutate(original, random));
      outcomes[expectTyped(readAll(dir), `index iteration ${i}`)]++;
    }
    expect(outcomes.error).toBeGreaterThan(0);
    rmSync(work, { recursive: true, force: true });
  });
});
