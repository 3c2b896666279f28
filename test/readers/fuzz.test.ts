import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { BufferSource } from '../../src/byte-source.js';
import { HubertConvertError } from '../../src/errors.js';
import { entryDataOffset, readCheckpoint, readZipEntries, toPlainJson, unpickle } from '../../src/readers/index.js';
import { mulberry32 as prng } from '../../src/prng.js';
import { concat } from '../helpers/bytes.js';

const CHECKPOINTS = join(import.meta.dirname, '../../fixtures/checkpoints');


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

function dataPkl(file: string): Uint8Array {
  const source = new BufferSource(readFileSync(join(CHECKPOINTS, file)));
  const entry = readZipEntries(source).find((e) => e.name.endsWith('/data.pkl'))!;
  return new Uint8Array(source.read(entryDataOffset(source, entry), entry.size));
}

/** Runs `fn`; it must return normally or throw a HubertConvertError, within `budgetMs`. */
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
        outcomes[expectTyped(() => toPlainJson(unpickle(bytes)), `${file} seed ${seed} iteration ${i}`)]++;
      }
      expect(outcomes.error).toBeGreaterThan(0);
    });
  }

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
        }, `${file} iteration ${i}`);
      }
    }
  });
});
