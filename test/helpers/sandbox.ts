import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, REPO } from './cli.js';

const PRELOAD = join(REPO, 'test/helpers/report-rss.mjs');

export interface SandboxRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Wall-clock milliseconds of the child process. */
  ms: number;
  /** Peak resident set size of the child, in MiB. */
  peakMiB: number;
  /** Whatever the run left in its TMPDIR, HOME or working directory (paths relative to the sandbox root). */
  leftovers: string[];
  /** The sandbox root: `cwd/`, `tmp/`, `home/`, plus anything the test put there. Removed by `dispose()`. */
  root: string;
}

/**
 * A scratch world for running the built CLI on hostile input: its own working directory, TMPDIR and HOME, all
 * empty before the run, so a test can assert that nothing was left anywhere; a wall-clock bound (the child is
 * killed past it) and the child's peak RSS.
 */
export class Sandbox {
  readonly root = mkdtempSync(join(tmpdir(), 'hubert-sandbox-'));
  readonly cwd = join(this.root, 'cwd');
  readonly tmp = join(this.root, 'tmp');
  readonly home = join(this.root, 'home');

  constructor() {
    for (const dir of [this.cwd, this.tmp, this.home]) mkdirSync(dir);
  }

  /**
   * Runs `hubert-convert ...args` with cwd/TMPDIR/HOME inside the sandbox. `keep` lists cwd entries the run may create
   * (its --out); `env` adds variables, or removes inherited ones given as undefined.
   */
  run(args: string[], options: { timeoutMs?: number; keep?: string[]; env?: Record<string, string | undefined> } = {}): SandboxRun {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" (npm test does it for you)`);
    const rssFile = join(this.root, 'rss');
    rmSync(rssFile, { force: true });
    const started = performance.now();
    const r = spawnSync(process.execPath, ['--import', PRELOAD, CLI, ...args], {
      cwd: this.cwd,
      encoding: 'utf8',
      timeout: options.timeoutMs ?? 30_000,
      env: withoutUndefined({ ...process.env, ...options.env, TMPDIR: this.tmp, TMP: this.tmp, TEMP: this.tmp, HOME: this.home, HUBERT_TEST_RSS_FILE: rssFile }),
    });
    const ms = performance.now() - started;
    const peakMiB = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) / 1024 : Number.NaN;
    const keep = new Set(options.keep ?? []);
    const leftovers = [
      ...readdirSync(this.tmp).map((f) => `tmp/${f}`),
      ...readdirSync(this.home).map((f) => `home/${f}`),
      ...readdirSync(this.cwd).filter((f) => !keep.has(f)).map((f) => `cwd/${f}`),
    ];
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms, peakMiB, leftovers, root: this.root };
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** `env` with the variables set to undefined removed (so a test can unset an inherited one). */
function withoutUndefined(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** The `error[E_CODE]` of a one-line CLI error, or null. */
export function errorCode(stderr: string): string | null {
  return /error\[(E_[A-Z0-9_]+)\]/.exec(stderr)?.[1] ?? null;
}
