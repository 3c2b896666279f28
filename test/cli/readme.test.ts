import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, cli } from '../helpers/cli.js';

/** The README's examples, run as written: the documented commands must work for a new user. */
const readme = readFileSync(join(REPO, 'README.md'), 'utf8');

function codeBlockAfter(heading: string, language: string): string {
  const at = readme.indexOf(heading);
  if (at < 0) throw new Error(`README has no "${heading}"`);
  const open = readme.indexOf('```' + language + '\n', at);
  const close = readme.indexOf('\n```', open + 4);
  return readme.slice(open + language.length + 4, close);
}

const commands = codeBlockAfter('### Try it on the bundled fixtures', 'sh')
  .split('\n')
  .filter((l) => l.startsWith('npx hubert-convert '));
const outputs = commands.flatMap((c) => [...c.matchAll(/--out (\S+)/g)].map((m) => m[1]!));
afterAll(() => outputs.concat('/tmp/hubert-lib', '/tmp/hubert-lib-steps').forEach((o) => rmSync(o, { recursive: true, force: true })));

describe('README', () => {
  it('has a Quick start of exactly the two documented commands', () => {
    expect(codeBlockAfter('## Quick start', 'sh').trim().split('\n')).toEqual(['npm ci && npm run demo', 'npm test']);
  });

  it('documents at least five fixture commands', () => {
    expect(commands.length).toBeGreaterThanOrEqual(5);
  });

  it.each(commands.map((c) => [c]))('runs: %s', (command) => {
    // `npx hubert-convert` runs the package's bin, which is dist/cli/main.js
    const r = cli(command.replace(/^npx hubert-convert /, '').split(' '));
    expect(r.stderr.match(/error\[.*$/m)?.[0] ?? '').toBe('');
    expect(r.status).toBe(0);
  });

  it('runs the library example, importing the package by its name', () => {
    const file = join(REPO, '.readme-example.test-tmp.mjs');
    writeFileSync(file, codeBlockAfter('## Library', 'js'));
    try {
      const r = spawnSync(process.execPath, [file], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^\d+ tensors mapped\nfairseq-hubert 2 layers\nverified\n$/);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
