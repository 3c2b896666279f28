#!/usr/bin/env node
/**
 * Renders the README's "Error codes" reference (between <!-- error-codes:start --> and <!-- error-codes:end -->) from
 * the one table of codes, src/error-codes.ts, so the docs cannot drift from the code:
 *
 *   npm run build && node scripts/error-codes-md.mjs          rewrite the README section
 *   npm run build && node scripts/error-codes-md.mjs --check  exit 1 if the README section is stale
 *
 * test/errors/codes.test.ts calls renderErrorCodes() on the source table and compares it with the README.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const START = '<!-- error-codes:start -->';
export const END = '<!-- error-codes:end -->';

/** The markdown table: one row per code, alphabetical, with its exit code(s) and summary. */
export function renderErrorCodes(codes, exitCodes) {
  const rows = Object.keys(codes)
    .sort()
    .map((code) => {
      const { kind, summary } = codes[code];
      const exits = [...new Set((typeof kind === 'string' ? [kind] : kind).map((k) => exitCodes[k]))].sort((a, b) => a - b);
      return `| \`${code}\` | ${exits.join(', ')} | ${summary.replaceAll('|', '\\|')} |`;
    });
  return ['| code | exit | meaning and usual fix |', '|---|---|---|', ...rows].join('\n');
}

/** The text between the markers, trimmed; null when the README has no such section. */
export function readmeSection(readme) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) return null;
  return readme.slice(start + START.length, end).trim();
}

export function withSection(readme, section) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} … ${END} section`);
  return `${readme.slice(0, start + START.length)}\n${section}\n${readme.slice(end)}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));
  const { ERROR_CODES } = await import(new URL('../dist/error-codes.js', import.meta.url).href);
  const { EXIT_CODES } = await import(new URL('../dist/errors.js', import.meta.url).href);
  const readme = readFileSync(readmePath, 'utf8');
  const section = renderErrorCodes(ERROR_CODES, EXIT_CODES);
  if (process.argv.includes('--check')) {
    if (readmeSection(readme) !== section) {
      process.stderr.write('README.md error-code reference is stale: run `npm run build && node scripts/error-codes-md.mjs`\n');
      process.exitCode = 1;
    }
  } else {
    writeFileSync(readmePath, withSection(readme, section));
  }
}
