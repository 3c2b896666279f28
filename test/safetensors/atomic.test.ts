import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';
import { FileSystemError } from '../../src/errors.js';
import { withTemporaryDir, writeFileAtomic } from '../../src/writers/atomic.js';
import { registerTemporary, temporariesInFlight, unregisterTemporary } from '../../src/writers/temp-registry.js';
import { expectError, useTempDir } from './helpers.js';

const tempDir = useTempDir();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Node 20 cannot run TypeScript: transpile the few modules a child process needs into `out` (same layout). */
function compileForChild(out: string, files: string[]): string {
  for (const file of files) {
    const js = ts.transpileModule(readFileSync(join(ROOT, file), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    mkdirSync(dirname(join(out, file)), { recursive: true });
    writeFileSync(join(out, file.replace(/\.ts$/, '.js')), js);
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  return out;
}

describe('writeFileAtomic', () => {
  test('writes the bytes, replaces an existing file, leaves no temporary', () => {
    const dir = tempDir();
    const path = join(dir, 'config.json');
    writeFileAtomic(path, 'old');
    writeFileAtomic(path, new Uint8Array([104, 105]));
    expect(readFileSync(path, 'utf8')).toBe('hi');
    expect(readdirSync(dir)).toEqual(['config.json']);
    expect(temporariesInFlight()).toEqual([]);
  });

  test('a failure (missing parent folder) is a FileSystemError and leaves nothing', () => {
    const dir = tempDir();
    const e = expectError(() => writeFileAtomic(join(dir, 'missing', 'x.json'), 'x'), FileSystemError, 'E_OUTPUT_WRITE');
    expect(e.message).toContain(`cannot write ${join(dir, 'missing', 'x.json')}: ENOENT`);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('withTemporaryDir', () => {
  test('builds in a hidden sibling and renames into place', async () => {
    const parent = tempDir();
    const final = join(parent, 'out');
    let seen = '';
    const result = await withTemporaryDir(final, (tmp) => {
      seen = tmp;
      expect(tmp.startsWith(join(parent, '.out.tmp-'))).toBe(true);
      expect(temporariesInFlight()).toContain(tmp);
      writeFileSync(join(tmp, 'a.txt'), 'A');
      return 42;
    });
    expect(result).toBe(42);
    expect(existsSync(seen)).toBe(false);
    expect(readdirSync(parent)).toEqual(['out']);
    expect(readFileSync(join(final, 'a.txt'), 'utf8')).toBe('A');
    expect(temporariesInFlight()).toEqual([]);
  });

  test('a throw (sync or async) removes the temporary folder and rethrows', async () => {
    const parent = tempDir();
    const final = join(parent, 'out');
    await expect(
      withTemporaryDir(final, (tmp) => {
        writeFileSync(join(tmp, 'partial'), 'x');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(
      withTemporaryDir(final, async (tmp) => {
        writeFileSync(join(tmp, 'partial'), 'x');
        await new Promise((r) => setTimeout(r, 1));
        throw new Error('later');
      }),
    ).rejects.toThrow('later');
    expect(readdirSync(parent)).toEqual([]);
    expect(temporariesInFlight()).toEqual([]);
  });

  test('an existing non-empty folder is refused without force, before fn runs', async () => {
    const parent = tempDir();
    const final = join(parent, 'out');
    mkdirSync(final);
    writeFileSync(join(final, 'keep.txt'), 'keep');
    let ran = false;
    const error = await withTemporaryDir(final, () => void (ran = true)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileSystemError);
    expect((error as FileSystemError).code).toBe('E_OUTPUT_EXISTS');
    expect((error as FileSystemError).message).toBe(`${final} already exists and is not empty; choose another output folder or pass --force to replace it`);
    expect(ran).toBe(false);
    expect(readdirSync(parent)).toEqual(['out']);
    expect(readFileSync(join(final, 'keep.txt'), 'utf8')).toBe('keep');
  });

  test('an existing empty folder is simply replaced; force replaces a non-empty one and leaves no old copy', async () => {
    const parent = tempDir();
    const final = join(parent, 'out');
    mkdirSync(final);
    await withTemporaryDir(final, (tmp) => writeFileSync(join(tmp, 'one'), '1'));
    expect(readdirSync(final)).toEqual(['one']);
    await withTemporaryDir(final, (tmp) => writeFileSync(join(tmp, 'two'), '2'), { force: true });
    expect(readdirSync(final)).toEqual(['two']);
    expect(readdirSync(parent)).toEqual(['out']);
  });

  test('force with a failing fn keeps the old output untouched', async () => {
    const parent = tempDir();
    const final = join(parent, 'out');
    mkdirSync(final);
    writeFileSync(join(final, 'keep.txt'), 'keep');
    await expect(withTemporaryDir(final, () => Promise.reject(new Error('no')), { force: true })).rejects.toThrow('no');
    expect(readdirSync(parent)).toEqual(['out']);
    expect(readdirSync(final)).toEqual(['keep.txt']);
  });
});

describe('temp registry', () => {
  test('signal handlers exist only while something is registered', () => {
    const before = process.listenerCount('SIGINT');
    registerTemporary('/nonexistent/a');
    registerTemporary('/nonexistent/b');
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    expect(process.listenerCount('SIGTERM')).toBeGreaterThan(0);
    unregisterTemporary('/nonexistent/a');
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    unregisterTemporary('/nonexistent/b');
    expect(process.listenerCount('SIGINT')).toBe(before);
    expect(temporariesInFlight()).toEqual([]);
  });

  test('SIGINT in the middle of a write removes the temporary folder and ends the process with the signal', () => {
    const parent = tempDir();
    const build = compileForChild(tempDir(), ['src/errors.ts', 'src/writers/temp-registry.ts', 'src/writers/atomic.ts']);
    const script = `
      import { withTemporaryDir } from ${JSON.stringify(pathToFileURL(join(build, 'src/writers/atomic.js')).href)};
      import { writeFileSync } from 'node:fs';
      await withTemporaryDir(process.argv[1], async (tmp) => {
        writeFileSync(tmp + '/partial.bin', 'x');
        process.kill(process.pid, 'SIGINT');
        await new Promise((r) => setTimeout(r, 5000));
      });
      console.log('not reached');`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, join(parent, 'out')], { encoding: 'utf8', timeout: 20_000 });
    expect([run.signal, run.stdout]).toEqual(['SIGINT', '']);
    expect(readdirSync(parent)).toEqual([]);
  });
});
