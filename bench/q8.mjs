// Our quantized ONNX graphs against the Python peer, accuracy and speed in the same run.
// Usage: npm run build && node bench/q8.mjs [--size base|distil] [--seconds 10] [--rounds 3] [--threads 2]
//        [--alternatives] [--all] [--peer-4bit] [--keep] [--dir DIR]
//
// 1. A random-weight fairseq HuBERT-base checkpoint from bench/make-checkpoint.mjs, converted by our CLI into an HF
//    folder. `--size distil` keeps its first 2 layers with no feature-projection LayerNorm: the DistilHuBERT geometry.
// 2. bench/q8_peer.py (Python with torch + transformers + onnxruntime, /work/venv by default): transformers'
//    HubertModel forward on the input (the reference every cosine is measured against), torch.onnx.export (opset 17)
//    and onnxruntime.quantization.quantize_dynamic(per_channel=True, op_types_to_quantize=['MatMul']) of that graph.
//    `--peer-4bit`: also onnxruntime's MatMulNBits (block 32) and MatMulBnb4 (NF4, block 64) quantizers on that graph.
// 3. Our fp32 and q8 graphs from the same folder (`--alternatives`: other 8-bit recipes; `--all`: every variant).
// 4. --rounds rounds, each running every graph once in turn (alternating, so load from other processes hits them
//    alike); medians of wall and process CPU time; cosine against torch; speed ratios against our fp32 and the peer.
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
// before onnxruntime loads: no telemetry files or uploads (see src/verify/runtime-telemetry-off.ts)
import '../dist/verify/runtime-telemetry-off.js';
import * as ort from 'onnxruntime-node';
import { readSafetensors } from '../dist/readers/disk-safetensors.js';
import { speechLikeSignal } from '../dist/verify/inputs.js';
import { buildOnnx, ONNX_VARIANTS } from '../dist/writers/onnx/index.js';
import { writeSafetensors } from '../dist/writers/disk-safetensors.js';
import { median } from './common.mjs';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: 'base' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    alternatives: { type: 'boolean', default: false },
    all: { type: 'boolean', default: false },
    'peer-4bit': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    dir: { type: 'string' },
    python: { type: 'string', default: process.env.HUBERT_CONVERT_PYTHON ?? '/work/venv/bin/python' },
  },
});
const ROUNDS = Math.max(3, Number(values.rounds));
const THREADS = Number(values.threads);
const here = dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(join(values.dir ?? tmpdir(), 'bench-q8-'));
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
};

/** numpy .npy v1 of a float32 [1, n] array, and the reader for the float32 arrays Python writes. */
function writeNpy(path, x) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (1, ${x.length}), }`;
  while ((10 + header.length + 1) % 64) header += ' ';
  header += '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 'latin1');
  pre[6] = 1;
  pre.writeUInt16LE(header.length, 8);
  writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(x.buffer, x.byteOffset, x.byteLength)]));
}
function readNpy(path) {
  const b = readFileSync(path);
  const start = 10 + b.readUInt16LE(8);
  return new Float32Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + b.length));
}

/** DistilHuBERT geometry from the base folder: layers 0–1, no feature-projection LayerNorm. */
function distilFolder(base, out) {
  mkdirSync(out, { recursive: true });
  const config = JSON.parse(readFileSync(join(base, 'config.json'), 'utf8'));
  writeFileSync(join(out, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 2, feat_proj_layer_norm: false }, null, 2));
  writeFileSync(join(out, 'preprocessor_config.json'), readFileSync(join(base, 'preprocessor_config.json')));
  const file = readSafetensors(join(base, 'model.safetensors'));
  const keep = [...file.tensors].filter(([name]) => !/^encoder\.layers\.([2-9]|1[01])\./.test(name) && !name.startsWith('feature_projection.layer_norm.'));
  writeSafetensors(join(out, 'model.safetensors'), keep);
  file.close();
}

function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) (dot += a[i] * b[i]), (na += a[i] * a[i]), (nb += b[i] * b[i]);
  return dot / Math.sqrt(na * nb);
}

/** Our graphs to measure: label → buildOnnx variant and tuning (alternatives are not written by convert). */
function ourGraphs() {
  const graphs = [['ours fp32', 'fp32', undefined], ['ours q8', 'q8', undefined]];
  if (values.alternatives) {
    graphs.push(
      ['q8 7-bit (old)', 'q8', { linear: { kind: 'int8', range: 'reduced' }, keepFloat: () => false }],
      ['q8 all-int8', 'q8', { keepFloat: () => false }],
      ['q8 pair-safe', 'q8', { linear: { kind: 'int8', range: 'pair-safe' } }],
      ['q8 uint8 w', 'q8', { linear: { kind: 'uint8' } }],
    );
  }
  if (values.all) for (const v of ONNX_VARIANTS) if (v !== 'fp32' && v !== 'q8') graphs.push([`ours ${v}`, v, undefined]);
  return graphs;
}

const started = new Date().toISOString();
const loadAtStart = loadavg().map((x) => x.toFixed(2)).join(' ');
try {
  const ckpt = join(work, 'base.pt');
  run('node', [join(here, 'make-checkpoint.mjs'), '--size', 'base', '--out', ckpt]);
  const base = join(work, 'hf-base');
  run('node', [join(here, '..', 'dist', 'cli', 'main.js'), 'convert', ckpt, '--out', base, '--quiet']);
  rmSync(ckpt);
  const hf = values.size === 'distil' ? join(work, 'hf-distil') : base;
  if (values.size === 'distil') distilFolder(base, hf);
  const input = speechLikeSignal(Math.round(Number(values.seconds) * 16000));
  writeNpy(join(work, 'input.npy'), input);
  const peer = join(work, 'peer');
  run(values.python, [join(here, 'q8_peer.py'), hf, join(work, 'input.npy'), peer, ...(values['peer-4bit'] ? ['--4bit'] : [])]);
  const torch = readNpy(join(peer, 'torch.npy'));

  const file = readSafetensors(join(hf, 'model.safetensors'));
  const model = { architecture: 'HubertModel', config: JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8')), preprocessor: {}, tensors: file.tensors };
  const paths = [];
  for (const [label, variant, tuning] of ourGraphs()) {
    const dir = join(work, label.replace(/[^a-z0-9]+/gi, '-'));
    const [f] = await buildOnnx(model, dir, { variants: [variant], ...(tuning ? { tuning } : {}) });
    paths.push([label, join(dir, f.file)]);
  }
  file.close();
  paths.push(['peer fp32', join(peer, 'peer_fp32.onnx')], ['peer q8', join(peer, 'peer_q8.onnx')]);
  if (values['peer-4bit']) paths.push(['peer q4', join(peer, 'peer_q4.onnx')], ['peer bnb4', join(peer, 'peer_bnb4.onnx')]);

  const graphs = [];
  for (const [label, path] of paths) {
    const session = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'all', intraOpNumThreads: THREADS, interOpNumThreads: 1, executionMode: 'sequential' });
    const feeds = { input_values: new ort.Tensor('float32', input, [1, input.length]) };
    const output = (await session.run(feeds))[session.outputNames[0]].data; // also the warm-up
    graphs.push({ label, session, feeds, cosine: cosine(output, torch), wall: [], cpu: [] });
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const g of graphs) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await g.session.run(g.feeds);
      g.wall.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      g.cpu.push((c.user + c.system) / 1000);
    }
  }
  const fp32 = graphs.find((g) => g.label === 'ours fp32');
  const peerQ8 = graphs.find((g) => g.label === 'peer q8');
  console.log(`HuBERT-${values.size} (random weights), ${values.seconds} s of speech-like audio, batch 1, onnxruntime-node ${ort.env.versions?.common ?? ''}, ${THREADS} threads, ${ROUNDS} alternating rounds`);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model}; load average ${loadAtStart} at the start, ${loadavg().map((x) => x.toFixed(2)).join(' ')} at the end; ${started}`);
  console.log('');
  console.log('| graph | cosine vs torch | 1 − cosine | wall median ms | CPU median ms | speed vs our fp32 (wall / CPU) | speed vs peer q8 (wall / CPU) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const g of graphs) {
    const w = median(g.wall);
    const c = median(g.cpu);
    const vs = (ref) => `${(median(ref.wall) / w).toFixed(2)}× / ${(median(ref.cpu) / c).toFixed(2)}×`;
    console.log(`| ${g.label} | ${g.cosine.toFixed(6)} | ${(1 - g.cosine).toExponential(2)} | ${w.toFixed(0)} | ${c.toFixed(0)} | ${vs(fp32)} | ${vs(peerQ8)} |`);
  }
  for (const g of graphs) await g.session.release();
} finally {
  if (values.keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
