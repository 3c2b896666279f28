// onnxruntime-node latency of our HuBERT-base ONNX graphs (fp32, int8) against the torch.onnx.export peer (fp32).
// Usage: npm run build && node bench/onnx-latency.mjs [--seconds 10] [--runs 7] [--threads 2] [--keep] [--hf DIR] [--js]
// --hf: reuse a folder made by make_peer_onnx.py; --js: generate the weights here even when Python exists.
// Besides wall time it reports process CPU time per run (all onnxruntime threads), which stays comparable when other
// processes compete for the cores.
// Weights: a random-weight HuBERT-base (95M parameters). When a Python with torch + transformers exists
// (/work/venv/bin/python, else python3), bench/make_peer_onnx.py makes the model, saves it as an HF folder and exports
// the peer graph; we build ours from that same folder. Without Python the model is generated here and there is no peer.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
// before onnxruntime loads: no telemetry files or uploads (see src/verify/runtime-telemetry-off.ts)
import '../dist/verify/runtime-telemetry-off.js';
import './common.mjs';
import * as ort from 'onnxruntime-node';
import { readSafetensors } from '../dist/readers/disk-safetensors.js';
import { MemoryTensor } from '../dist/tensor.js';
import { buildOnnx } from '../dist/writers/onnx/index.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    runs: { type: 'string', default: '7' },
    threads: { type: 'string', default: '2' },
    keep: { type: 'boolean', default: false },
    hf: { type: 'string' },
    js: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const RUNS = Math.max(5, Number(values.runs));
const THREADS = Number(values.threads);
const here = dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'onnx-latency-'));

const BASE_CONFIG = {
  model_type: 'hubert', architectures: ['HubertModel'], vocab_size: 32, hidden_size: 768, num_hidden_layers: 12,
  num_attention_heads: 12, intermediate_size: 3072, hidden_act: 'gelu', hidden_dropout: 0.1, activation_dropout: 0.1,
  attention_dropout: 0.1, feat_proj_layer_norm: true, feat_proj_dropout: 0, final_dropout: 0.1, layerdrop: 0.1,
  initializer_range: 0.02, layer_norm_eps: 1e-5, feat_extract_norm: 'group', feat_extract_activation: 'gelu',
  conv_dim: [512, 512, 512, 512, 512, 512, 512], conv_stride: [5, 2, 2, 2, 2, 2, 2], conv_kernel: [10, 3, 3, 3, 3, 2, 2],
  conv_bias: false, num_feat_extract_layers: 7, num_conv_pos_embeddings: 128, num_conv_pos_embedding_groups: 16,
  conv_pos_batch_norm: false, do_stable_layer_norm: false, apply_spec_augment: true, mask_time_prob: 0.05,
  mask_time_length: 10, mask_time_min_masks: 2, mask_feature_prob: 0, mask_feature_length: 10, mask_feature_min_masks: 0,
  ctc_loss_reduction: 'sum', ctc_zero_infinity: false, use_weighted_layer_sum: false, classifier_proj_size: 256,
  pad_token_id: 0, bos_token_id: 1, eos_token_id: 2,
};
const PREPROCESSOR = { feature_extractor_type: 'Wav2Vec2FeatureExtractor', feature_size: 1, sampling_rate: 16000, padding_value: 0, padding_side: 'right', do_normalize: false, return_attention_mask: false };

function findPython() {
  for (const py of ['/work/venv/bin/python', 'python3']) {
    const r = spawnSync(py, ['-c', 'import torch, transformers'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

/** Deterministic pseudo-normal values (sum of uniforms), scaled. */
function randomTensor(shape, seed, scale, offset = 0) {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let j = 0; j < 4; j++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      acc += s / 4294967296;
    }
    v[i] = offset + (acc - 2) * scale * 1.732;
  }
  return MemoryTensor.fromFloat32(shape, v);
}

function jsModel() {
  const c = BASE_CONFIG;
  const H = c.hidden_size;
  const t = new Map();
  let seed = 1;
  const add = (name, shape, scale, offset = 0) => t.set(name, randomTensor(shape, seed++, scale, offset));
  let inC = 1;
  c.conv_dim.forEach((d, i) => {
    add(`feature_extractor.conv_layers.${i}.conv.weight`, [d, inC, c.conv_kernel[i]], 1 / Math.sqrt(inC * c.conv_kernel[i]));
    inC = d;
  });
  add('feature_extractor.conv_layers.0.layer_norm.weight', [512], 0.1, 1);
  add('feature_extractor.conv_layers.0.layer_norm.bias', [512], 0.1);
  add('feature_projection.layer_norm.weight', [512], 0.1, 1);
  add('feature_projection.layer_norm.bias', [512], 0.1);
  add('feature_projection.projection.weight', [H, 512], 0.02);
  add('feature_projection.projection.bias', [H], 0.02);
  add('encoder.pos_conv_embed.conv.weight_g', [1, 1, 128], 0.1, 1);
  add('encoder.pos_conv_embed.conv.weight_v', [H, H / 16, 128], 0.02);
  add('encoder.pos_conv_embed.conv.bias', [H], 0.02);
  add('encoder.layer_norm.weight', [H], 0.1, 1);
  add('encoder.layer_norm.bias', [H], 0.1);
  for (let n = 0; n < c.num_hidden_layers; n++) {
    const p = `encoder.layers.${n}`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      add(`${p}.attention.${proj}.weight`, [H, H], 0.02);
      add(`${p}.attention.${proj}.bias`, [H], 0.02);
    }
    for (const ln of ['layer_norm', 'final_layer_norm']) {
      add(`${p}.${ln}.weight`, [H], 0.1, 1);
      add(`${p}.${ln}.bias`, [H], 0.1);
    }
    add(`${p}.feed_forward.intermediate_dense.weight`, [3072, H], 0.02);
    add(`${p}.feed_forward.intermediate_dense.bias`, [3072], 0.02);
    add(`${p}.feed_forward.output_dense.weight`, [H, 3072], 0.02);
    add(`${p}.feed_forward.output_dense.bias`, [H], 0.02);
  }
  return { architecture: 'HubertModel', config: c, preprocessor: PREPROCESSOR, tensors: t };
}

function folderModel(dir) {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  return { architecture: 'HubertModel', config, preprocessor: PREPROCESSOR, tensors: new Map(readSafetensors(join(dir, 'model.safetensors')).tensors) };
}

function audio(samples) {
  const x = new Float32Array(samples);
  let s = 7;
  for (let i = 0; i < samples; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = Math.sin(i * 0.0345) * 0.5 + (s / 4294967296 - 0.5) * 0.5;
  }
  return x;
}

async function openSession(label, path, input) {
  const session = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'all', intraOpNumThreads: THREADS, interOpNumThreads: 1, executionMode: 'sequential' });
  const feeds = { input_values: new ort.Tensor('float32', input, [1, input.length]) };
  let output;
  for (let i = 0; i < 2; i++) output = (await session.run(feeds))[session.outputNames[0]].data; // warm-up
  return { label, session, feeds, output, times: [], cpu: [] };
}

/** Runs the graphs round-robin (one run each per round) so that load from other processes hits all of them alike. */
async function measure(graphs) {
  for (let r = 0; r < RUNS; r++) {
    for (const g of graphs) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await g.session.run(g.feeds);
      g.times.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      g.cpu.push((c.user + c.system) / 1000);
    }
  }
  for (const g of graphs) {
    await g.session.release();
    g.times.sort((a, b) => a - b);
    g.cpu.sort((a, b) => a - b);
    g.median = g.times[Math.floor(g.times.length / 2)];
    g.min = g.times[0];
    g.cpuMedian = g.cpu[Math.floor(g.cpu.length / 2)];
    console.log(`${g.label.padEnd(12)} wall median ${g.median.toFixed(0)} ms  min ${g.min.toFixed(0)} ms  max ${g.times.at(-1).toFixed(0)} ms | CPU median ${g.cpuMedian.toFixed(0)} ms  (${RUNS} runs)`);
  }
}

function maxAbs(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

try {
  const python = values.js ? null : findPython();
  let model;
  let peer = null;
  if (values.hf || python) {
    const hf = values.hf ?? join(work, 'hf');
    if (!values.hf) {
      const r = spawnSync(python, [join(here, 'make_peer_onnx.py'), hf], { stdio: ['ignore', 'ignore', 'inherit'] });
      if (r.status !== 0) throw new Error(`make_peer_onnx.py failed (exit ${r.status})`);
    }
    model = folderModel(hf);
    peer = join(hf, 'peer.onnx');
    console.log(`weights: random HuBERT-base made by make_peer_onnx.py (transformers init), peer = torch.onnx.export opset 17`);
  } else {
    model = jsModel();
    console.log(`weights: random HuBERT-base generated in JS; ${values.js ? '--js given' : 'no Python with torch+transformers'}, so no peer graph`);
  }
  const t0 = performance.now();
  const files = await buildOnnx(model, work, { variants: ['fp32', 'int8'] });
  console.log(`built ours in ${((performance.now() - t0) / 1000).toFixed(2)} s: ${files.map((f) => `${f.file} ${(f.bytes / 1e6).toFixed(1)} MB`).join(', ')}`);
  console.log(`onnxruntime-node ${ort.env.versions?.common ?? ''}, ${SECONDS} s of audio, batch 1, ${THREADS} intra-op threads, graphOptimizationLevel 'all'`);

  const input = audio(Math.round(SECONDS * 16000));
  const graphs = [await openSession('ours fp32', join(work, files[0].file), input), await openSession('ours int8', join(work, files[1].file), input)];
  if (peer) graphs.push(await openSession('peer fp32', peer, input));
  await measure(graphs);
  const [ours, int8, p] = graphs;
  const ratio = (a, b) => `wall median ${(a.median / b.median).toFixed(2)}x, wall min ${(a.min / b.min).toFixed(2)}x, CPU median ${(a.cpuMedian / b.cpuMedian).toFixed(2)}x`;
  console.log(`int8 speed-up over our fp32: ${ratio(ours, int8)} (target >= 1.5x)`);
  if (p) {
    console.log(`peer fp32 / ours fp32 latency: ${ratio(p, ours)} (target >= 1)`);
    console.log(`max |ours fp32 - peer fp32| on last_hidden_state: ${maxAbs(ours.output, p.output).toExponential(2)}`);
  }
} finally {
  if (!values.keep) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}
