/**
 * What --out may be. Two rules, both checked before anything is read or written:
 *  1. the output never is, contains, or lies inside an input (symlinks resolved), so no conversion can replace or
 *     delete the files it converts;
 *  2. an existing output is replaced (--force) only when it is an empty folder or a folder hubert-convert wrote, with
 *     nothing in it that its report does not list; anything else is the user's to remove.
 */
import { closeSync, fstatSync, lstatSync, openSync, readSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { FileSystemError } from '../errors.js';

/** A path the command reads, named as the user knows it (`the checkpoint`, `--upstream`, ...). */
export interface InputPath {
  path: string;
  what: string;
}

/** The absolute path with every existing leading part resolved through symlinks (the rest appended as written). */
export function resolveExistingPart(path: string): string {
  let head = resolve(path);
  const tail: string[] = [];
  for (;;) {
    try {
      return join(realpathSync.native(head), ...tail);
    } catch {
      const parent = dirname(head);
      if (parent === head) return join(head, ...tail);
      tail.unshift(basename(head));
      head = parent;
    }
  }
}

function within(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel));
}

/** The paths an input stands for: as written, resolved, and for a folder every entry in it (resolved: HF cache blobs). */
function inputLocations(path: string): string[] {
  const locations = new Set([resolve(path), resolveExistingPart(path)]);
  if (statOrUndefined(path)?.isDirectory()) {
    for (const name of readdirSync(path)) {
      try {
        locations.add(realpathSync.native(join(path, name)));
      } catch {
        // a dangling link: nothing there to lose
      }
    }
  }
  return [...locations];
}

/** stat, or undefined for a path that cannot exist (missing, or below a file: ENOTDIR). */
function statOrUndefined(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function sameFile(a: string, b: string): boolean {
  const sa = statOrUndefined(a);
  const sb = statOrUndefined(b);
  return !!sa && !!sb && sa.dev === sb.dev && sa.ino === sb.ino;
}

/**
 * Whether some existing folder above `path` is `folder` by identity (device and inode), which catches what comparing
 * strings misses: another spelling on a case-insensitive file system, a bind mount.
 */
function hasAncestor(path: string, folder: string): boolean {
  if (!statOrUndefined(folder)?.isDirectory()) return false;
  for (let p = dirname(path); ; p = dirname(p)) {
    if (sameFile(p, folder)) return true;
    if (dirname(p) === p) return false;
  }
}

/** Refuses (E_OUT_OVERLAPS_INPUT, exit 6) an output that is, contains, or lies inside any input. */
export function refuseOutputOverlap(out: string, inputs: readonly InputPath[]): void {
  const outLocations = [resolve(out), resolveExistingPart(out)];
  for (const input of inputs) {
    if (statOrUndefined(input.path) === undefined) continue; // a missing input is reported by its reader
    for (const location of inputLocations(input.path)) {
      for (const target of outLocations) {
        const relation =
          target === location || sameFile(target, location)
            ? 'is'
            : within(location, target) || hasAncestor(location, target)
              ? 'contains'
              : within(target, location) || hasAncestor(target, location)
                ? 'lies inside'
                : null;
        if (relation) {
          throw new FileSystemError(
            'E_OUT_OVERLAPS_INPUT',
            `--out ${out} ${relation} ${input.what} ${input.path}; writing there could replace or delete the input, so nothing was done. Choose an output folder outside every input`,
            { out, input: input.path },
          );
        }
      }
    }
  }
}

/** The report file that marks a folder as ours. */
export const REPORT_FILE = 'conversion_report.json';
const REPORT_SCHEMA = 'hubert-convert/conversion-report';
/** Our report is a few MB at most (one entry per tensor); anything larger is not ours. */
const MAX_REPORT_BYTES = 64 << 20;

function readSmallJson(path: string): unknown {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (!fstatSync(fd).isFile() || size > MAX_REPORT_BYTES) return undefined;
    const bytes = new Uint8Array(size);
    for (let at = 0; at < size; ) {
      const n = readSync(fd, bytes, at, size - at, at);
      if (n === 0) break;
      at += n;
    }
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function filesIn(dir: string, root = dir): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    const stat = lstatSync(full);
    if (stat.isDirectory()) out.push(...filesIn(full, root));
    else out.push(relative(root, full).split(sep).join('/'));
  }
  return out;
}

/**
 * Why `dir` may not be replaced by --force, or undefined when it may: it must be a real folder (not a link, not a
 * file) holding hubert-convert's own conversion_report.json, and every file in it must be one that report lists.
 */
export function whyNotReplaceable(dir: string): string | undefined {
  const stat = lstatSync(dir, { throwIfNoEntry: false });
  if (!stat) return undefined;
  if (stat.isSymbolicLink()) return 'it is a symbolic link';
  if (!stat.isDirectory()) return 'it is a file, not a folder hubert-convert wrote';
  const entries = filesIn(dir);
  if (entries.length === 0) return undefined;
  const reportPath = join(dir, REPORT_FILE);
  const report = lstatSync(reportPath, { throwIfNoEntry: false })?.isFile() ? readSmallJson(reportPath) : undefined;
  const r = report as { schema?: unknown; tool?: { name?: unknown }; files?: unknown } | undefined;
  if (!r || r.schema !== REPORT_SCHEMA || r.tool?.name !== 'hubert-convert' || !Array.isArray(r.files)) {
    return `it has no ${REPORT_FILE} written by hubert-convert, so it is not a folder hubert-convert wrote`;
  }
  const listed = new Set((r.files as Array<{ path?: unknown }>).map((f) => String(f?.path)));
  listed.add(REPORT_FILE);
  const foreign = entries.filter((e) => !listed.has(e));
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? `, … (${foreign.length} in all)` : '');
    return `it holds files hubert-convert did not write (${shown})`;
  }
  return undefined;
}
