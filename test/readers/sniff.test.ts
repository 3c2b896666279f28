import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { CorruptInputError, FileSystemError, UnsupportedModelError } from '../../src/errors.js';
import { readCheckpoint } from '../../src/readers/index.js';
import { pickle } from '../helpers/pickle-builder.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dir = mkdtempSync(join(tmpdir(), 'hc-sniff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function failure(input: string | Uint8Array): Error & { code?: string } {
  try {
    readCheckpoint(input);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('file-type sniffing', () => {
  test('raw pickles (protocol 2 and protocol 0) are read as format "pickle"', () => {
    const p2 = readCheckpoint(pickle().proto(2).emptyDict().str('a').int(1).setitem().done());
    expect([p2.format, p2.root]).toEqual(['pickle', new Map([['a', 1]])]);
    const p0 = readCheckpoint(pickle().mark().str('x').intText('5').dict().done());
    expect([p0.format, p0.root]).toEqual(['pickle', new Map([['x', 5]])]);
  });

  test('a raw pickle of a tensor without its storages keeps an inert record and lists no tensors', () => {
    const c = readCheckpoint(pickle().proto(2).tensor({ key: '0', numel: 1, shape: [1], stride: [1] }).done());
    expect(c.tensors).toEqual([]);
    expect(c.root).toMatchObject({ className: 'torch.Tensor' });
  });

  const cases: Array<[string, Uint8Array, typeof CorruptInputError | typeof UnsupportedModelError, string, RegExp]> = [
    ['empty', new Uint8Array(0), CorruptInputError, 'E_EMPTY_FILE', /is empty \(0 bytes\)/],
    ['HTML', enc('\n  <!DOCTYPE html><html><body>404</body></html>'), CorruptInputError, 'E_NOT_A_CHECKPOINT', /looks like an HTML page \(probably an error page from a failed download\)/],
    ['git-lfs pointer', enc('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n'), CorruptInputError, 'E_GIT_LFS_POINTER', /run `git lfs pull`/],
    ['safetensors', (() => {
      const header = enc('{"__metadata__":{"format":"pt"}}');
      const b = new Uint8Array(8 + header.length);
      new DataView(b.buffer).setBigUint64(0, BigInt(header.length), true);
      b.set(header, 8);
      return b;
    })(), CorruptInputError, 'E_ALREADY_SAFETENSORS', /already a safetensors file.*pass its folder/],
    ['random text', enc('hello world, not a model'), CorruptInputError, 'E_NOT_A_CHECKPOINT', /is not a PyTorch checkpoint/],
    ['tar', (() => {
      const b = new Uint8Array(1024);
      b.set(enc('ustar'), 257);
      b[0] = 0x73;
      return b;
    })(), UnsupportedModelError, 'E_TORCH_TAR_FORMAT', /tar-format torch file/],
  ];
  for (const [name, bytes, cls, code, message] of cases) {
    test(`${name} → ${code} (buffer and file)`, () => {
      const fromBuffer = failure(bytes);
      expect(fromBuffer).toBeInstanceOf(cls);
      expect([fromBuffer.code, fromBuffer.message]).toEqual([code, expect.stringMatching(message)]);
      const file = join(dir, `${name.replace(/\W/g, '_')}.pt`);
      writeFileSync(file, bytes);
      const fromFile = failure(file);
      expect(fromFile.code).toBe(code);
      expect(fromFile.message.startsWith(file)).toBe(true);
    });
  }

  test('missing files and directories are FileSystemErrors', () => {
    const missing = failure(join(dir, 'nope.pt'));
    expect([missing.constructor, missing.code]).toEqual([FileSystemError, 'E_FILE_NOT_FOUND']);
    expect(failure(dir).code).toBe('E_IS_DIRECTORY');
  });
});
