import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { CorruptInputError, UnsupportedModelError } from '../../src/errors.js';
import { readSafetensors } from '../../src/readers/disk-safetensors.js';
import { DATA_DIR } from './helpers.js';
import { mulberry32 as random } from '../../src/prng.js';

const ITERATIONS = 3000;
const INTERESTING = [0x00, 0x20, 0x22, 0x2c, 0x2d, 0x30, 0x31, 0x39, 0x3a, 0x5b, 0x5d, 0x5c, 0x7b, 0x7d, 0x7f, 0x80, 0xc0, 0xff];

test(`${ITERATIONS} seeded mutations of a valid file each end in success or a typed error, quickly`, () => {
  const original = new Uint8Array(readFileSync(join(DATA_DIR, 'reference_all_dtypes.safetensors')));
  const headerEnd = 8 + Number(new DataView(original.buffer).getBigUint64(0, true));
  const rand = random(20261124);
  const pick = (n: number) => Math.floor(rand() * n);
  const outcomes = new Map<string, number>();
  let slowest = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    let bytes = original.slice();
    const kind = pick(6);
    if (kind === 0) {
      // the length field: one random byte, or a random value
      const view = new DataView(bytes.buffer);
      if (rand() < 0.5) bytes[pick(8)] = pick(256);
      else view.setBigUint64(0, BigInt(pick(headerEnd + 64)), true);
    } else if (kind === 1) {
      for (let k = 1 + pick(4); k > 0; k--) bytes[8 + pick(headerEnd - 8)] = pick(256);
    } else if (kind === 2) {
      for (let k = 1 + pick(4); k > 0; k--) bytes[8 + pick(headerEnd - 8)] = INTERESTING[pick(INTERESTING.length)]!;
    } else if (kind === 3) {
      // a digit changed: shapes and offsets
      const digits = [...bytes.subarray(8, headerEnd).keys()].filter((j) => bytes[8 + j]! >= 0x30 && bytes[8 + j]! <= 0x39);
      bytes[8 + digits[pick(digits.length)]!] = 0x30 + pick(10);
    } else if (kind === 4) {
      bytes = bytes.slice(0, pick(bytes.byteLength + 1)); // truncation
    } else {
      const extra = new Uint8Array(1 + pick(16)).map(() => pick(256));
      const at = pick(bytes.byteLength + 1);
      bytes = new Uint8Array([...bytes.subarray(0, at), ...extra, ...bytes.subarray(at)]); // insertion
    }
    const started = performance.now();
    let outcome = 'ok';
    try {
      const file = readSafetensors(bytes);
      for (const t of file.tensors.values()) t.bytes();
    } catch (error) {
      const typed = error instanceof CorruptInputError || (error instanceof UnsupportedModelError && error.code === 'E_SAFETENSORS_DTYPE');
      if (!typed) throw new Error(`iteration ${i}: unexpected ${String(error)}`);
      outcome = (error as CorruptInputError).code;
    }
    slowest = Math.max(slowest, performance.now() - started);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  expect(slowest).toBeLessThan(250);
  // the mutations reached deep into validation, not only the first checks
  for (const code of ['ok', 'E_SAFETENSORS_HEADER_JSON', 'E_SAFETENSORS_SIZE_MISMATCH', 'E_SAFETENSORS_HEADER_TRUNCATED', 'E_SAFETENSORS_TRAILING_BYTES']) {
    expect([code, outcomes.has(code)]).toEqual([code, true]);
  }
});
