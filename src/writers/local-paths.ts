/**
 * Written files name inputs by file name only: a folder meant for publishing must not carry the converting machine's
 * paths (user names, project layout). Text that mentions an input (a warning, say) has the path replaced by its name.
 */
import { realpathSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, resolve } from 'node:path';

/** The spellings of `path` a message may contain: as given, absolute, and resolved through symlinks. */
function spellings(path: string): string[] {
  const forms = new Set([path, resolve(path)]);
  try {
    forms.add(realpathSync.native(path));
  } catch {
    // not (yet) on disk
  }
  return [...forms].filter((f) => f.length > 1);
}

/**
 * A function replacing every spelling of each named path with its base name, then any remaining mention of the
 * working directory, the temporary directory or the home directory with a neutral placeholder.
 */
export function localPathRedactor(paths: readonly string[]): (text: string) => string {
  const replacements: Array<[string, string]> = [];
  for (const path of paths) for (const form of spellings(path)) replacements.push([form, basename(resolve(path))]);
  for (const [dir, name] of [
    [process.cwd(), '.'],
    [tmpdir(), '<tmp>'],
    [homedir(), '~'],
  ] as const) {
    for (const form of spellings(dir)) if (form !== '/') replacements.push([form, name]);
  }
  // longest first, so a path is replaced before a directory that contains it
  replacements.sort((a, b) => b[0].length - a[0].length);
  return (text) => {
    let out = text;
    for (const [from, to] of replacements) out = out.split(from).join(to);
    return out;
  };
}
