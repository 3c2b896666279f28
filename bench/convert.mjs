// Conversion speed and memory against `cp` and the Python path, in one run on one machine.
// Usage: npm run build && node bench/convert.mjs [--runs 3] [--xlarge] [--sizes base,large] [--dir /tmp]
//        [--generator auto|js|python] [--no-python] [--no-onnx] [--no-verify] [--json results.json]
// Every timed command runs under /usr/bin/time -v (peak RSS) after `sync` (so no earlier run's dirty pages are being
// written back meanwhile), with the checkpoint in the page cache (read once before the first run). Each round runs
// every contender once, in turn, so machine noise hits them alike; the table shows medians. Big files live in a
// temporary folder under --dir and are deleted as soon as they are measured.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeCheckpoint } from './make-checkpoint.mjs';
import { CLI, HERE, PYTHON, median, scratchDir } from './common.mjs';


const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    sizes: { type: 'string', default: 'base,large' },
    xlarge: { type: 'boolean', default: false },
    dir: { type: 'string', default: tmpdir() },
    generator: { type: 'string', default: 'auto' },
    python: { type: 'boolean', default: true },
    onnx: { type: 'boolean', default: true },
    verify: { type: 'boolean', default: true },
    json: { type: 'string' },
    // another build of hubert-convert (e.g. before a change), timed in the same rounds as "before"
    'baseline-dist': { type: 'string' },
  },
  allowNegative: true,
});
const RUNS = Math.max(1, Number(opts.runs));
const BASELINE_CLI = opts['baseline-dist'] ? join(resolve(opts['baseline-dist']), 'cli', 'main.js') : undefined;
const sizes = opts.sizes.split(',').filter(Boolean);
if (opts.xlarge && !sizes.includes('xlarge')) sizes.push('xlarge');
const hasPython = opts.python && existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch, safetensors'], { stdio: 'ignore' }).status === 0;
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (or set HUBERT_CONVERT_DIST)`);
if (!existsSync('/usr/bin/time')) throw new Error('/usr/bin/time is missing: apt-get install -y time');

const { dir: work, cleanup } = scratchDir(opts.dir, 'hubert-convert-bench-');

const MB = 1e6;

function sh(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...options });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr?.slice(-2000)}`);
  return r.stdout;
}

/** Runs a command under /usr/bin/time -v; returns wall seconds (ours, high resolution) and peak RSS in MB. */
function timed(cmd, args) {
  spawnSync('sync');
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? NaN) * 1024;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  const seconds = (label) => Number(new RegExp(`${label} time \\(seconds\\): ([\\d.]+)`).exec(r.stderr)?.[1] ?? NaN);
  return { wall, rss: rss / MB, cpu: seconds('User') + seconds('System'), stdout: r.stdout };
}

function bytesUnder(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((s, n) => s + bytesUnder(join(path, n)), 0);
}

function sha256File(path) {
  return sh('sha256sum', [path]).split(' ')[0];
}

function warm(path) {
  sh('cat', [path], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function machine() {
  const df = sh('df', ['-h', work]).trim().split('\n').at(-1).split(/\s+/);
  return {
    cpus: `${sh('nproc', []).trim()} × ${cpus()[0]?.model ?? '?'}`,
    memory: sh('free', ['-h']).trim(),
    node: process.version,
    disk: `${df[0]} (${df[1]} total, ${df[3]} free) at ${work}`,
    loadAtStart: loadavg().map((x) => x.toFixed(2)).join(' '),
    python: hasPython ? sh(PYTHON, ['-c', 'import torch, safetensors; print(f"torch {torch.__version__}, safetensors {safetensors.__version__}")']).trim() : 'absent',
    freeMemory: `${(freemem() / 2 ** 30).toFixed(1)} / ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
  };
}

const results = { machine: machine(), runs: RUNS, sizes: {} };
console.error(`machine: ${results.machine.cpus}, node ${results.machine.node}, load ${results.machine.loadAtStart}; work dir ${work}`);

function generate(size) {
  const file = join(work, `hubert_${size}.pt`);
  const usePython = opts.generator === 'python' || (opts.generator === 'auto' && hasPython && size !== 'xlarge');
  const t0 = performance.now();
  if (usePython) sh(PYTHON, [join(HERE, 'make_checkpoint.py'), '--size', size, '--out', file]);
  else writeCheckpoint(file, size);
  return { file, generator: usePython ? 'torch.save (bench/make_checkpoint.py)' : 'bench/make-checkpoint.mjs', seconds: (performance.now() - t0) / 1000 };
}

function convertArgs(ckpt, out, extra = []) {
  return [CLI, 'convert', ckpt, '--out', out, '--quiet', ...extra];
}

function benchSize(size) {
  const { file, generator, seconds } = generate(size);
  const bytes = statSync(file).size;
  console.error(`\n${size}: ${(bytes / MB).toFixed(0)} MB checkpoint from ${generator} in ${seconds.toFixed(1)} s`);
  warm(file);
  const r = { checkpointBytes: bytes, generator, cp: [], ours: [], before: [], python: [], onnx: [], onnxCp: [] };
  const cpOut = join(work, 'cp.pt');
  const ourOut = join(work, 'ours');
  const pyOut = join(work, 'py');
  for (let i = 0; i < RUNS; i++) {
    r.cp.push(timed('cp', [file, cpOut]));
    rmSync(cpOut);
    const ours = timed(process.execPath, convertArgs(file, ourOut));
    r.ours.push(ours);
    if (i === 0) r.oursSha = sha256File(join(ourOut, 'model.safetensors'));
    if (i === 0) r.outputBytes = bytesUnder(join(ourOut, 'model.safetensors'));
    rmSync(ourOut, { recursive: true });
    if (BASELINE_CLI) {
      r.before.push(timed(process.execPath, [BASELINE_CLI, ...convertArgs(file, ourOut).slice(1)]));
      rmSync(ourOut, { recursive: true });
    }
    if (hasPython && size !== 'xlarge') {
      r.python.push(timed(PYTHON, [join(HERE, 'python_convert.py'), file, pyOut]));
      if (i === 0) r.pythonSha = sha256File(join(pyOut, 'model.safetensors'));
      rmSync(pyOut, { recursive: true });
    }
    console.error(`  round ${i + 1}: cp ${r.cp.at(-1).wall.toFixed(2)} s, ours ${ours.wall.toFixed(2)} s / ${ours.rss.toFixed(0)} MB${r.before.length ? `, before ${r.before.at(-1).wall.toFixed(2)} s / ${r.before.at(-1).rss.toFixed(0)} MB` : ''}${r.python.length ? `, python ${r.python.at(-1).wall.toFixed(2)} s / ${r.python.at(-1).rss.toFixed(0)} MB` : ''}`);
  }
  if (opts.onnx && size !== 'xlarge') {
    const onnxOut = join(work, 'onnx');
    const copy = join(work, 'onnx-copy');
    for (let i = 0; i < RUNS; i++) {
      try {
        r.onnx.push(timed(process.execPath, convertArgs(file, onnxOut, ['--onnx', 'fp32'])));
      } catch (error) {
        r.onnxError = String(error.message).split('\n').slice(0, 6).join(' ');
        console.error(`  onnx: ${r.onnxError}`);
        break;
      }
      r.onnxBytes = bytesUnder(onnxOut);
      r.onnxCp.push(timed('cp', ['-r', onnxOut, copy]));
      rmSync(copy, { recursive: true });
      if (size === 'base' && opts.verify && i === RUNS - 1) {
        r.verify = [];
        // one run: verify of base takes ~40 s
        for (let k = 0; k < 1; k++) {
          try {
            r.verify.push(timed(process.execPath, [CLI, 'verify', onnxOut, '--source', file, '--quiet', '--json']));
          } catch (error) {
            r.verifyError = String(error.message).split('\n').slice(0, 6).join(' ');
            console.error(`  verify: ${r.verifyError}`);
            break;
          }
        }
        if (r.verify.length) r.verifyPassed = JSON.parse(r.verify.at(-1).stdout).passed;
      }
      rmSync(onnxOut, { recursive: true });
      console.error(`  onnx fp32 round ${i + 1}: ${r.onnx.at(-1).wall.toFixed(2)} s / ${r.onnx.at(-1).rss.toFixed(0)} MB; cp -r of its ${(r.onnxBytes / MB).toFixed(0)} MB ${r.onnxCp.at(-1).wall.toFixed(2)} s`);
    }
  }
  results.sizes[size] = r;
  return file;
}

function inspectBench(file) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(timed(process.execPath, [CLI, 'inspect', file, '--json', '--no-scan']));
  const tensors = JSON.parse(runs[0].stdout);
  results.inspect = { file: file.split('/').at(-1), bytes: statSync(file).size, runs, tensorCount: Array.isArray(tensors.tensors) ? tensors.tensors.length : undefined };
}

try {
  let largest;
  for (const size of sizes) {
    const file = benchSize(size);
    if (largest) rmSync(largest, { force: true });
    largest = file;
  }
  if (largest) inspectBench(largest);
  rmSync(largest, { force: true });
} finally {
  cleanup();
}
results.machine.loadAtEnd = loadavg().map((x) => x.toFixed(2)).join(' ');

// ---------------------------------------------------------------------------------------------------------------
const s = (runs) => (runs.length ? median(runs.map((x) => x.wall)) : NaN);
const m = (runs) => (runs.length ? median(runs.map((x) => x.rss)) : NaN);
const c = (runs) => (runs.length ? median(runs.map((x) => x.cpu)) : NaN);
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '—');
const lines = [];
lines.push(`Medians of ${RUNS} runs; wall seconds (CPU seconds, user+sys, in parentheses), peak RSS in MB (10^6 bytes); page cache warm; \`sync\` before each command.`);
lines.push('');
lines.push('| model | checkpoint | cp s | ours s | ours RSS | ours/cp | python s | python RSS | python/ours | same bytes as python |');
lines.push('|---|---|---|---|---|---|---|---|---|---|');
for (const [size, r] of Object.entries(results.sizes)) {
  const cp = s(r.cp);
  const ours = s(r.ours);
  const py = s(r.python);
  lines.push(
    `| ${size} | ${f0(r.checkpointBytes / MB)} MB | ${f2(cp)} (${f2(c(r.cp))}) | ${f2(ours)} (${f2(c(r.ours))}) | ${f0(m(r.ours))} | ${f2(ours / cp)}× | ${f2(py)} (${f2(c(r.python))}) | ${f0(m(r.python))} | ${f2(py / ours)}× | ${r.pythonSha ? (r.pythonSha === r.oursSha ? 'yes' : 'NO') : '—'} |`,
  );
}
if (BASELINE_CLI) {
  lines.push('', `| model | before (${opts['baseline-dist']}) s | before RSS | before/cp | ours s | before/ours |`, '|---|---|---|---|---|---|');
  for (const [size, r] of Object.entries(results.sizes)) {
    lines.push(`| ${size} | ${f2(s(r.before))} | ${f0(m(r.before))} | ${f2(s(r.before) / s(r.cp))}× | ${f2(s(r.ours))} | ${f2(s(r.before) / s(r.ours))}× |`);
  }
}
const onnxRows = Object.entries(results.sizes).filter(([, r]) => r.onnx.length || r.onnxError);
if (onnxRows.length) {
  lines.push('', '| model | convert --onnx fp32 s | RSS MB | bytes written | cp -r of them s | ratio |', '|---|---|---|---|---|---|');
  for (const [size, r] of onnxRows) {
    if (r.onnxError) lines.push(`| ${size} | failed: ${r.onnxError.slice(0, 200)} | | | | |`);
    else lines.push(`| ${size} | ${f2(s(r.onnx))} | ${f0(m(r.onnx))} | ${f0(r.onnxBytes / MB)} MB | ${f2(s(r.onnxCp))} | ${f2(s(r.onnx) / s(r.onnxCp))}× |`);
  }
}
const base = results.sizes.base;
if (base?.verify?.length || base?.verifyError) {
  lines.push('', base.verifyError ? `verify (base): failed: ${base.verifyError.slice(0, 300)}` : `verify --source (base, fp32 ONNX folder, 1 run): ${f2(s(base.verify))} s, ${f0(m(base.verify))} MB, passed: ${base.verifyPassed}`);
}
if (results.inspect) {
  const i = results.inspect;
  lines.push('', `inspect --json --no-scan ${i.file} (${f0(i.bytes / MB)} MB): ${f2(s(i.runs))} s, ${f0(m(i.runs))} MB`);
}
lines.push('', `machine: ${results.machine.cpus}; node ${results.machine.node}; ${results.machine.python}; disk ${results.machine.disk}; load average ${results.machine.loadAtStart} → ${results.machine.loadAtEnd}`);
lines.push('```', results.machine.memory, '```');
console.log(lines.join('\n'));
if (opts.json) {
  const strip = (runs) => runs?.map(({ wall, rss, cpu }) => ({ wall, rss, cpu }));
  for (const r of Object.values(results.sizes)) for (const k of ['cp', 'ours', 'before', 'python', 'onnx', 'onnxCp', 'verify']) if (r[k]) r[k] = strip(r[k]);
  if (results.inspect) results.inspect.runs = strip(results.inspect.runs);
  (await import('node:fs')).writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
}
