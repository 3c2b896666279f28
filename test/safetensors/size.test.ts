import { expect, test } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { parseSize } from '../../src/writers/size.js';
import { expectError } from './helpers.js';

test('units as Hugging Face reads them: decimal KB/MB/GB/TB, binary KiB/MiB/GiB/TiB, plain bytes', () => {
  const cases: Array<[string | number, number]> = [
    ['5GB', 5_000_000_000],
    ['500MB', 500_000_000],
    ['1.5GiB', 1_610_612_736],
    ['2MiB', 2_097_152],
    ['10KiB', 10_240],
    ['1TB', 1e12],
    ['1TiB', 2 ** 40],
    ['3kb', 3_000],
    ['0.5 gb', 500_000_000],
    ['1.1GB', 1_100_000_000],
    ['123', 123],
    ['64B', 64],
    [' 7 MB ', 7_000_000],
    [4096, 4096],
  ];
  for (const [input, bytes] of cases) expect([input, parseSize(input)]).toEqual([input, bytes]);
});

test('malformed or non-positive sizes are usage errors', () => {
  for (const bad of ['', 'GB', '5XB', '-1GB', '0', '0MB', '1e3', '5 G B', 1.5, 0, -3, '0.1B']) {
    const e = expectError(() => parseSize(bad), UsageError, 'E_SIZE_FORMAT');
    expect(e.message).toBe(`size ${JSON.stringify(bad)} is not valid: use a positive number of bytes or a number with a unit, e.g. "5GB", "500MB", "1.5GiB"`);
  }
});
