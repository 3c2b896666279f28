// verify of a base folder with three ONNX variants against the Python peer doing the equivalent check, in one run.
// Usage: npm run build && node bench/verify.mjs [--runs 3] [--dir /tmp] [--folder <existing folder>]
//        [--baseline-dist <another build>] [--json results.json]
// The folder: a base-geometry fairseq checkpoint from bench/make-checkpoint.mjs, converted with
// `convert --onnx fp32,fp16,q8` (skipped with --folder). Each round runs every contender once, alternating which
// goes first, each under /usr/bin/time -v; the table shows medians and the ratio ours / peer of the same rounds.
//   ours:   node dist/cli/main.js verify <folder> --quiet --json
//   peer:   python bench/python_verify.py <folder>   (transformers load + forward on the same input shapes,
//           onnxruntime on every variant, compare)
//   before: --baseline-dist's build running the same verify (optional)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeCheckpoint } from './make-checkpoint.mjs';
import { CLI, HERE, PYTHON, median, scratchDir } from './common.mjs';


const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    dir: { type: 'string', default: tmpdir() },
    folder: { type: 'string' },
    'baseline-dist': { type: 'string' },
    json: { type: 'string' },
  },
});
const RUNS = Math.max(1, Number(opts.runs));
const BASELINE_CLI = opts['baseline-dist'] ? join(resolve(opts['baseline-dist']), 'cli', 'main.js') : undefined;
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (or set HUBERT_CONVERT_DIST)`);
if (!existsSync('/usr/bin/time')) throw new Error('/usr/bin/time is missing: apt-get install -y time');
const hasPeer = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch, transformers, onnxruntime'], { stdio: 'ignore' }).status === 0;
if (!hasPeer) throw new Error(`the peer needs ${PYTHON} with torch, transformers and onnxruntime (set HUBERT_CONVERT_PYTHON)`);

const { dir: work, cleanup } = scratchDir(opts.dir, 'hubert-convert-verify-bench-');


function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr?.slice(-2000)}`);
  return r.stdout;
}

/** Wall seconds, CPU seconds (user+sys) and peak RSS (MB) under /usr/bin/time -v. */
function timed(cmd, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  const seconds = (label) => Number(new RegExp(`${label} time \\(seconds\\): ([\\d.]+)`).exec(r.stderr)?.[1] ?? NaN);
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? NaN) * 1024;
  return { wall, cpu: seconds('User') + seconds('System'), rss: rss / 1e6, stdout: r.stdout };
}

function warm(folder) {
  for (const name of readdirSync(folder, { recursive: true })) {
    const path = join(folder, String(name));
    try {
      readFileSync(path);
    } catch {
      // a directory
    }
  }
}

const machine = {
  cpus: `${sh('nproc', []).trim()} × ${cpus()[0]?.model ?? '?'}`,
  node: process.version,
  peer: sh(PYTHON, ['-c', 'import torch, transformers, onnxruntime; print(f"torch {torch.__version__}, transformers {transformers.__version__}, onnxruntime {onnxruntime.__version__}")']).trim(),
  loadAtStart: loadavg().map((x) => x.toFixed(2)).join(' '),
};
console.error(`machine: ${machine.cpus}, node ${machine.node}, ${machine.peer}; load ${machine.loadAtStart}`);

let folder = opts.folder ? resolve(opts.folder) : undefined;
try {
  if (!folder) {
    const ckpt = join(work, 'hubert_base.pt');
    writeCheckpoint(ckpt, 'base');
    folder = join(work, 'hubert-base');
    sh(process.execPath, [CLI, 'convert', ckpt, '--out', folder, '--onnx', 'fp32,fp16,q8', '--quiet']);
    rmSync(ckpt);
    console.error(`converted a base checkpoint to ${folder} (fp32, fp16, q8)`);
  }
  warm(folder);
  const contenders = {
    ours: () => timed(process.execPath, [CLI, 'verify', folder, '--quiet', '--json']),
    peer: () => timed(PYTHON, [join(HERE, 'python_verify.py'), folder]),
    ...(BASELINE_CLI ? { before: () => timed(process.execPath, [BASELINE_CLI, 'verify', folder, '--quiet', '--json']) } : {}),
  };
  const names = Object.keys(contenders);
  const runs = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < RUNS; i++) {
    // alternate the order, so neither side always runs first (or right after the other)
    const order = i % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const r = contenders[name]();
      const doc = JSON.parse(r.stdout);
      if (name !== 'peer' && doc.passed !== true) throw new Error(`${name}: verify did not pass`);
      runs[name].push({ wall: r.wall, cpu: r.cpu, rss: r.rss, ...(name === 'peer' ? { stages: { import: doc.import, load: doc.load, torchForward: doc.torchForward, onnx: doc.onnx } } : {}) });
    }
    console.error(`  round ${i + 1}: ${names.map((n) => `${n} ${runs[n].at(-1).wall.toFixed(2)} s`).join(', ')}; load ${loadavg()[0].toFixed(2)}`);
  }
  machine.loadAtEnd = loadavg().map((x) => x.toFixed(2)).join(' ');

  const med = (name, key) => median(runs[name].map((r) => r[key]));
  const lines = [`verify of a base folder (fp32, fp16, q8): medians of ${RUNS} alternating rounds; wall s (CPU s), peak RSS MB`, ''];
  lines.push('| contender | wall s | CPU s | RSS MB | / peer |', '|---|---|---|---|---|');
  for (const name of names) {
    lines.push(`| ${name} | ${med(name, 'wall').toFixed(2)} | ${med(name, 'cpu').toFixed(2)} | ${med(name, 'rss').toFixed(0)} | ${(med(name, 'wall') / med('peer', 'wall')).toFixed(2)}× |`);
  }
  const ratios = runs.ours.map((r, i) => r.wall / runs.peer[i].wall);
  lines.push('', `ours / peer per round: ${ratios.map((x) => x.toFixed(2)).join(', ')}; median ${median(ratios).toFixed(2)}`);
  const stages = runs.peer.map((r) => r.stages);
  lines.push(`peer stages (median s): import ${median(stages.map((s) => s.import)).toFixed(2)}, load ${median(stages.map((s) => s.load)).toFixed(2)}, torch forward ${median(stages.map((s) => s.torchForward)).toFixed(2)}`);
  lines.push(`machine: ${machine.cpus}; node ${machine.node}; ${machine.peer}; load average ${machine.loadAtStart} → ${machine.loadAtEnd}`);
  console.log(lines.join('\n'));
  if (opts.json) (await import('node:fs')).writeFileSync(opts.json, `${JSON.stringify({ machine, runs }, null, 2)}\n`);
} finally {
  cleanup();
}
