/**
 * The transformers.js dtype set: the weight formats onnxruntime reads back exactly as we mean them (MatMulNBits,
 * MatMulBnb4 layouts, 8-bit quantizer invariants), and every variant converted alone: its file name, its accuracy in
 * the report (against a scratch fp32 graph when fp32 was not requested), verify passing it within its tolerance, and a
 * tampered copy failing.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { ONNX_VARIANT_FILES, ONNX_VARIANTS, type OnnxVariant } from '../../src/model.js';
import { mulberry32 } from '../../src/prng.js';
import { castTensor, MemoryTensor, toFloat32 } from '../../src/tensor.js';
import { DEFAULT_TOLERANCES, verify } from '../../src/verify/index.js';
import { writeSegments } from '../../src/writers/onnx/external-data.js';
import { encodeModel, GraphBuilder } from '../../src/writers/onnx/graph.js';
import { emitLinear } from '../../src/writers/onnx/linear.js';
import { ONNX_DTYPE } from '../../src/writers/onnx/proto.js';
import { PAIR_SUM_MAX, quantizeInt8, quantizeUint8 } from '../../src/writers/onnx/quantize.js';
import { dequantizeBnb4, dequantizeNBits4, NF4_CODES, quantizeBnb4, quantizeNBits4 } from '../../src/writers/onnx/quantize4.js';
import { VARIANT_SPECS } from '../../src/writers/onnx/variants.js';
import { type FloatType } from '../../src/writers/onnx/weights.js';
import { replaceBytes } from '../verify/corrupt.js';
import { FIXTURES } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'onnx-variants-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  // a normal-ish body with a few outliers, as trained weights have
  return Float32Array.from({ length: rows * cols }, (_, i) => (random() + random() + random() - 1.5) * 0.1 * (i % 97 === 0 ? 6 : 1));
}

/** y = x·Wᵀ in float64 */
function matmulT(x: Float32Array, rows: number, w: Float32Array, outF: number, inF: number): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) for (let o = 0; o < outF; o++) {
    let acc = 0;
    for (let i = 0; i < inF; i++) acc += x[r * inF + i]! * w[o * inF + i]!;
    y[r * outF + o] = acc;
  }
  return y;
}

/** Runs one Linear written by emitLinear in onnxruntime. */
async function runLinear(scheme: Parameters<typeof emitLinear>[5], ct: FloatType, w: Float32Array, outF: number, inF: number, x: Float32Array, rows: number): Promise<Float64Array> {
  const g = new GraphBuilder('linear', 17);
  const input = g.input('x', ONNX_DTYPE.FLOAT, [rows, inF]);
  const xt = ct === ONNX_DTYPE.FLOAT16 ? g.node('Cast', [input], { to: ct }) : input;
  const y = emitLinear(g, xt, 'layer', MemoryTensor.fromFloat32([outF, inF], w), null, scheme, ct);
  g.output('y', ct === ONNX_DTYPE.FLOAT16 ? g.node('Cast', [y], { to: ONNX_DTYPE.FLOAT }) : y, ONNX_DTYPE.FLOAT, [rows, outF]);
  const path = join(root, `linear-${scheme.kind}-${ct}-${outF}x${inF}.onnx`);
  await writeSegments(path, encodeModel(g, { irVersion: 8, producerName: 'test', producerVersion: '0' }));
  const session = await ort.InferenceSession.create(path);
  try {
    const out = await session.run({ x: new ort.Tensor('float32', x, [rows, inF]) });
    return Float64Array.from(out.y!.data as Float32Array);
  } finally {
    await session.release();
  }
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const maxOf = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
};

describe('4-bit layouts as onnxruntime reads them', () => {
  // K = 45 is no whole number of blocks (padding), N·K = 315 is odd (a lone last nibble for bnb4)
  const [outF, inF, rows] = [7, 45, 3];
  const w = randomMatrix(outF, inF, 3);
  const x = randomMatrix(rows, inF, 4).map((v) => v * 10);

  it('MatMulNBits (q4): onnxruntime computes x·Wqᵀ with our dequantized weights; each weight within one step of its block', async () => {
    const q = quantizeNBits4(w, outF, inF, 32);
    const wq = dequantizeNBits4(q, outF, inF, 32);
    for (let o = 0; o < outF; o++) for (let b = 0; b < 2; b++) {
      const block = Array.from({ length: Math.min(32, inF - 32 * b) }, (_, j) => o * inF + 32 * b + j);
      const step = maxOf(block.map((i) => w[i]!)) / 8;
      expect(Math.max(...block.map((i) => Math.abs(wq[i]! - w[i]!)))).toBeLessThanOrEqual(step * (1 + 1e-6));
    }
    const ours = await runLinear({ kind: 'q4', blockSize: 32 }, ONNX_DTYPE.FLOAT, w, outF, inF, x, rows);
    const exact = matmulT(x, rows, wq, outF, inF);
    expect(maxAbs(ours, exact)).toBeLessThan(1e-5 * maxOf(exact));
  });

  it('MatMulNBits in float16 (q4f16) reads the same weights', async () => {
    const wq = dequantizeNBits4(quantizeNBits4(w, outF, inF, 32), outF, inF, 32);
    const ours = await runLinear({ kind: 'q4', blockSize: 32 }, ONNX_DTYPE.FLOAT16, w, outF, inF, x, rows);
    const exact = matmulT(x, rows, wq, outF, inF);
    expect(maxAbs(ours, exact)).toBeLessThan(2e-3 * maxOf(exact));
  });

  it('MatMulBnb4 (bnb4): onnxruntime computes x·Wqᵀ with our NF4 codes; each weight within half the widest code gap', async () => {
    const q = quantizeBnb4(w, 64);
    const wq = dequantizeBnb4(q, outF * inF, 64);
    const halfGap = Math.max(...NF4_CODES.slice(1).map((c, i) => c - NF4_CODES[i]!)) / 2;
    for (let i = 0; i < w.length; i++) expect(Math.abs(wq[i]! - w[i]!)).toBeLessThanOrEqual(halfGap * q.absmax[Math.floor(i / 64)]! * (1 + 1e-6));
    const ours = await runLinear({ kind: 'bnb4', blockSize: 64 }, ONNX_DTYPE.FLOAT, w, outF, inF, x, rows);
    const exact = matmulT(x, rows, wq, outF, inF);
    expect(maxAbs(ours, exact)).toBeLessThan(1e-5 * maxOf(exact));
  });
});

describe('8-bit quantizers', () => {
  const [outF, inF] = [16, 64];
  const w = randomMatrix(outF, inF, 5);
  // a column made to need the pair bound: two same-sign maxima side by side
  w[3 * inF + 10] = 0.9;
  w[3 * inF + 11] = 0.9;

  it.each(['full', 'pair-safe', 'reduced'] as const)('int8 %s: symmetric, within half a step, in range', (range) => {
    const q = quantizeInt8(w, outF, inF, range);
    expect(q.zeroPoints).toBeNull();
    for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) {
      const v = q.values[i * outF + o]!;
      expect(Math.abs(v)).toBeLessThanOrEqual(range === 'reduced' ? 64 : 127);
      // pair-safe may take one extra step off an element to keep its pair in bound
      expect(Math.abs(v * q.scales[o]! - w[o * inF + i]!)).toBeLessThanOrEqual(q.scales[o]! * (range === 'pair-safe' ? 1.5 : 0.5) * (1 + 1e-6));
    }
    const column3 = Array.from({ length: inF }, (_, i) => q.values[i * outF + 3]!);
    if (range === 'full') expect(Math.max(...column3.map(Math.abs))).toBe(127);
    if (range === 'pair-safe') {
      for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i += 2) expect(Math.abs(q.values[i * outF + o]!) + Math.abs(q.values[(i + 1) * outF + o]!)).toBeLessThanOrEqual(PAIR_SUM_MAX);
      expect(column3[10]! + column3[11]!).toBe(PAIR_SUM_MAX);
    }
  });

  it('uint8: asymmetric per column, zero exactly representable, within half a step', () => {
    const q = quantizeUint8(w, outF, inF);
    for (let o = 0; o < outF; o++) {
      const z = q.zeroPoints![o]!;
      for (let i = 0; i < inF; i++) expect(Math.abs((q.values[i * outF + o]! - z) * q.scales[o]! - w[o * inF + i]!)).toBeLessThanOrEqual(q.scales[o]! * 0.5 * (1 + 1e-6));
    }
  });
});

const CTC = join(FIXTURES, 'checkpoints', 'fairseq_ctc.pt');
const DICT = join(FIXTURES, 'checkpoints', 'fairseq_ctc.dict.ltr.txt');

/** The bytes of lm_head's per-output scales (or absmax) as the variant writes them, and the same negated. */
function lmHeadScaleBytes(variant: OnnxVariant, weight: Float32Array, outF: number, inF: number): [Uint8Array, Uint8Array] {
  const spec = VARIANT_SPECS[variant].linear;
  const scales =
    spec.kind === 'q4' ? quantizeNBits4(weight, outF, inF, spec.blockSize).scales
    : spec.kind === 'bnb4' ? quantizeBnb4(weight, spec.blockSize).absmax
    : spec.kind === 'uint8' ? quantizeUint8(weight, outF, inF).scales
    : spec.kind === 'int8' ? quantizeInt8(weight, outF, inF, spec.range).scales
    : null;
  if (!scales) throw new Error(`${variant} has no scales`);
  const bytes = (s: Float32Array) => (VARIANT_SPECS[variant].float === 'fp16' ? castTensor(MemoryTensor.fromFloat32([s.length], s), 'F16').bytes() : new Uint8Array(s.buffer.slice(0)));
  return [bytes(scales), bytes(scales.map((v) => -v))];
}

describe.each(ONNX_VARIANTS.filter((v) => v !== 'fp32'))('--onnx %s alone', (variant) => {
  const out = join(root, `alone-${variant}`);

  it('converts, reports its accuracy against a scratch fp32 graph, verifies within its tolerance, and leaves no scratch file', async () => {
    const { report, verification } = await convert(CTC, { out, dict: DICT, onnx: [variant], verify: true });
    const onnx = report.onnx as { variant: string; file: string; accuracy: { reference: string; cosine: number; relativeL2: number } }[];
    expect(onnx.map((o) => [o.variant, o.file])).toEqual([[variant, ONNX_VARIANT_FILES[variant]]]);
    expect(onnx[0]!.accuracy.reference).toBe('fp32 graph built for this measurement (not published)');
    const tolerance = DEFAULT_TOLERANCES[variant];
    expect(onnx[0]!.accuracy.cosine).toBeGreaterThanOrEqual(tolerance.minCosine!);
    expect(onnx[0]!.accuracy.cosine).toBeLessThan(1);
    expect(readdirSync(join(out, 'onnx'))).toEqual([ONNX_VARIANT_FILES[variant].slice('onnx/'.length)]);
    expect(report.files.map((f) => f.path)).toContain(ONNX_VARIANT_FILES[variant]);
    const parity = verification!.checks.find((c) => c.name === 'parity')!;
    expect(parity.passed).toBe(true);
    expect(parity.items.map((i) => i.subject)).toEqual([`${variant} single logits`, `${variant} batch logits`]);
    for (const item of parity.items) expect(item.comparison!.tolerance).toEqual(tolerance);
  });
});

const QUANTIZED = ONNX_VARIANTS.filter((v) => VARIANT_SPECS[v].linear.kind !== 'float');

describe.each(QUANTIZED)('%s tampered', (variant) => {
  it('a copy with lm_head scales negated fails parity on its logits', async () => {
    const dir = join(root, `tampered-${variant}`);
    await convert(CTC, { out: dir, dict: DICT, onnx: [variant] });
    const { readHfFolder } = await import('../../src/readers/hf-folder.js');
    const folder = readHfFolder(dir);
    const lm = folder.model.tensors.get('lm_head.weight')!;
    const weight = toFloat32(lm);
    folder.close();
    const [scales, negated] = lmHeadScaleBytes(variant, weight, lm.shape[0]!, lm.shape[1]!);
    expect(replaceBytes(join(dir, ONNX_VARIANT_FILES[variant]), scales, negated)).toBe(1);
    const r = await verify(dir);
    const parity = r.checks.find((c) => c.name === 'parity')!;
    expect(parity.items.filter((i) => !i.passed).map((i) => i.subject)).toEqual([`${variant} single logits`, `${variant} batch logits`]);
    expect(parity.items[0]!.comparison!.cosine).toBeLessThan(0);
  });
});
