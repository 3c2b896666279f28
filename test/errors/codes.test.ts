/**
 * The one list of error codes (src/error-codes.ts) against the sources and the README: every code raised is listed,
 * every listed code is raised, each throw site uses a kind the table gives its code, and the README reference is the
 * table rendered.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ERROR_CODES, type ErrorCode, kindsOf } from '../../src/error-codes.js';
import { type ErrorKind, EXIT_CODES } from '../../src/errors.js';
import { readmeSection, renderErrorCodes } from '../../scripts/error-codes-md.mjs';

const ROOT = join(import.meta.dirname, '..', '..');
const TABLE_FILE = 'src/error-codes.ts';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const SOURCES = sourceFiles(join(ROOT, 'src'))
  .map((path) => ({ file: relative(ROOT, path), text: readFileSync(path, 'utf8') }))
  .filter((s) => s.file !== TABLE_FILE);

const CODE = `'(E_[A-Z0-9_]+)'`;
const literalCodes = (text: string): string[] => [...text.matchAll(new RegExp(CODE, 'g'))].map((m) => m[1]!);
const USED = new Set(SOURCES.flatMap((s) => literalCodes(s.text)));
const TABLE = Object.keys(ERROR_CODES) as ErrorCode[];
const KINDS = Object.keys(EXIT_CODES).filter((k) => k !== 'ok') as ErrorKind[];

const CLASS_KIND: Readonly<Record<string, ErrorKind>> = {
  UsageError: 'usage',
  UnsafeInputError: 'unsafe',
  CorruptInputError: 'corrupt',
  UnsupportedModelError: 'unsupported',
  VerificationError: 'verification',
  FileSystemError: 'io',
};

interface Site {
  file: string;
  line: number;
  code: string;
  kind: string;
}

/**
 * Throw sites whose kind the text shows: `new XxxError('E_…'` (also `new XxxError(cond ? 'E_A' : 'E_B'`),
 * `new HubertConvertError('kind', 'E_…'`, and the corrupt-only helpers `corrupt('E_…'` / `corrupt(source, 'E_…'` /
 * `bad('E_…'` (their `code` parameter is typed ErrorCodeOf<'corrupt'>; checked below).
 */
function throwSites(file: string, text: string): Site[] {
  const lineOf = (index: number) => text.slice(0, index).split('\n').length;
  const sites: Site[] = [];
  for (const m of text.matchAll(new RegExp(`new (\\w+Error)\\(\\s*(?:\\w+\\s*\\?\\s*)?${CODE}(?:\\s*:\\s*${CODE})?`, 'g'))) {
    for (const code of [m[2], m[3]]) if (code) sites.push({ file, line: lineOf(m.index), code, kind: CLASS_KIND[m[1]!] ?? `unknown class ${m[1]}` });
  }
  for (const m of text.matchAll(new RegExp(`new HubertConvertError\\(\\s*'(\\w+)',\\s*${CODE}`, 'g'))) {
    sites.push({ file, line: lineOf(m.index), code: m[2]!, kind: m[1]! });
  }
  for (const m of text.matchAll(new RegExp(`\\b(?:corrupt|bad)\\(\\s*(?:source,\\s*)?${CODE}`, 'g'))) {
    sites.push({ file, line: lineOf(m.index), code: m[1]!, kind: 'corrupt' });
  }
  return sites;
}

function disagreements(sites: Site[]): string[] {
  return sites
    .filter((s) => !(Object.hasOwn(ERROR_CODES, s.code) && kindsOf(s.code as ErrorCode).includes(s.kind as ErrorKind)))
    .map((s) => `${s.file}:${s.line}: ${s.code} raised as ${s.kind}, the table says ${Object.hasOwn(ERROR_CODES, s.code) ? kindsOf(s.code as ErrorCode).join('/') : 'nothing'}`);
}

const SITES = SOURCES.flatMap((s) => throwSites(s.file, s.text));

/** Codes raised through a variable or a table, so no throw site shows their kind; each says where. */
const RAISED_INDIRECTLY: Readonly<Record<string, string>> = {
  E_INTERNAL: 'src/cli/main.ts: any error that is not a HubertConvertError',
  E_UNEXPECTED_TENSOR: 'src/architectures/validate.ts CATEGORIES, thrown as CorruptInputError',
  E_TENSOR_DTYPE: 'src/architectures/validate.ts CATEGORIES, thrown as CorruptInputError',
  E_SAFETENSORS_OPEN: "src/readers/disk-safetensors.ts: openCode of openInputFile (ErrorCodeOf<'io'>)",
  E_VERIFY_READ: "src/verify/read-input.ts: openCode of readInputBytes (ErrorCodeOf<'io'>)",
};

describe('the error-code table', () => {
  test('lists every code literal in src/, and nothing else', () => {
    expect([...USED].filter((c) => !Object.hasOwn(ERROR_CODES, c)).sort(), 'codes raised in src/ but missing from src/error-codes.ts').toEqual([]);
    expect(TABLE.filter((c) => !USED.has(c)), 'codes in the table that src/ never raises').toEqual([]);
    expect(TABLE.length).toBe(USED.size);
  });

  test('gives each code valid kinds and a one-line summary', () => {
    for (const code of TABLE) {
      const kinds = kindsOf(code);
      expect(kinds.length, code).toBeGreaterThan(0);
      expect(new Set(kinds).size, `${code} repeats a kind`).toBe(kinds.length);
      for (const kind of kinds) expect(KINDS, code).toContain(kind);
      const { summary } = ERROR_CODES[code];
      expect(summary, code).toMatch(/^[^\n]{10,160}$/);
      expect(summary, code).toMatch(/[.)]$/);
    }
  });

  test('is alphabetical within each group, so entries merge cleanly', () => {
    const text = readFileSync(join(ROOT, TABLE_FILE), 'utf8');
    const body = text.slice(text.indexOf('export const ERROR_CODES'), text.indexOf('} as const'));
    const groups = body.split(/\n\s*\/\/ --- /).slice(1);
    expect(groups.length).toBeGreaterThanOrEqual(9);
    for (const group of groups) {
      const keys = [...group.matchAll(/^\s*(E_[A-Z0-9_]+): \{/gm)].map((m) => m[1]!);
      expect(keys, group.split('\n')[0]).toEqual([...keys].sort());
    }
    expect(groups.flatMap((g) => [...g.matchAll(/^\s*(E_[A-Z0-9_]+): \{/gm)].map((m) => m[1]!)).sort()).toEqual([...TABLE].sort());
  });
});

describe('throw sites', () => {
  test('raise each code with a kind the table gives it', () => {
    expect(SITES.length).toBeGreaterThan(200);
    expect(disagreements(SITES)).toEqual([]);
  });

  test('show the kind of every code, except the few raised through a variable', () => {
    const seen = new Set(SITES.map((s) => s.code));
    expect(TABLE.filter((c) => !seen.has(c)).sort()).toEqual(Object.keys(RAISED_INDIRECTLY).sort());
  });

  test('the scan catches a code raised with another kind', () => {
    const text = "throw new UsageError('E_VERIFY_WAV', 'x');\nthrow corrupt(source, 'E_OUTPUT_EXISTS', 'y');\nnew HubertConvertError('internal', 'E_NO_OUTPUT', 'z');";
    expect(disagreements(throwSites('f.ts', text))).toEqual([
      'f.ts:1: E_VERIFY_WAV raised as usage, the table says corrupt',
      'f.ts:3: E_NO_OUTPUT raised as internal, the table says usage',
      'f.ts:2: E_OUTPUT_EXISTS raised as corrupt, the table says io',
    ]);
  });

  test("the corrupt helpers take only corrupt codes", () => {
    const helpers = SOURCES.flatMap((s) => s.text.split('\n').filter((l) => /\b(?:corrupt|bad)\b\s*(?:=\s*)?\([^)]*\bcode: /.test(l)).map((l) => `${s.file}: ${l.trim()}`));
    expect(helpers.length).toBeGreaterThanOrEqual(5);
    for (const h of helpers) expect(h).toContain("code: ErrorCodeOf<'corrupt'>");
  });
});

describe('README error-code reference', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readmeSection(readme);

  test('is the table rendered (regenerate: npm run build && node scripts/error-codes-md.mjs)', () => {
    expect(section).not.toBeNull();
    expect(section).toBe(renderErrorCodes(ERROR_CODES, EXIT_CODES));
  });

  test('lists exactly the table codes, each with its exit codes', () => {
    const rows = [...section!.matchAll(/^\| `(E_[A-Z0-9_]+)` \| ([\d, ]+) \|/gm)].map((m) => [m[1]!, m[2]!] as const);
    expect(rows.map(([code]) => code)).toEqual([...TABLE].sort());
    for (const [code, exits] of rows) {
      expect(exits.split(', ').map(Number), code).toEqual([...new Set(kindsOf(code as ErrorCode).map((k) => EXIT_CODES[k]))].sort((a, b) => a - b));
    }
    expect(rows.find(([code]) => code === 'E_TENSOR_TOO_LARGE')).toEqual(['E_TENSOR_TOO_LARGE', '4, 5']);
    expect(rows.find(([code]) => code === 'E_PICKLE_UNSAFE_GLOBAL')).toEqual(['E_PICKLE_UNSAFE_GLOBAL', '3']);
  });

  test('is linked from the exit-code table', () => {
    const exitCodes = readme.slice(readme.indexOf('### Exit codes'), readme.indexOf('### Error codes'));
    expect(exitCodes).toContain('](#error-codes)');
  });
});
