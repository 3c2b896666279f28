/**
 * Graphs written by other tools (fixtures/onnx-foreign, made by fixtures/gen/torch_export.py): transformers'
 * HubertModel through torch.onnx.export, and onnxruntime's quantize_dynamic of it. The ONNX reader indexes them, and
 * verify runs them whole and in pieces, with the same outputs, against the folder our converter writes for the same
 * checkpoint (its tensors are the HF mapping's).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/byte-source.js';
import { convert } from '../../src/convert.js';
import { readOnnxModel } from '../../src/readers/onnx-model.js';
import { type GraphOutput } from '../../src/verify/onnx-runner.js';
import { planPieces } from '../../src/verify/piecewise.js';
import { verify, type VerifyReport } from '../../src/verify/index.js';
import { FIXTURES } from './helpers.js';

const FOREIGN = join(FIXTURES, 'onnx-foreign', 'fairseq_base_dict');
let root: string;
let dir: string;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'verify-foreign-'));
  dir = join(root, 'folder');
  await convert(join(FIXTURES, 'checkpoints', 'fairseq_base_dict.pt'), { out: dir });
  mkdirSync(join(dir, 'onnx'));
  for (const f of ['model.onnx', 'model_quantized.onnx']) copyFileSync(join(FOREIGN, f), join(dir, 'onnx', f));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function runs(memoryBudgetMiB: number | 'whole'): Promise<{ report: VerifyReport; outputs: Map<string, GraphOutput> }> {
  const outputs = new Map<string, GraphOutput>();
  const report = await verify(dir, { memoryBudgetMiB, onGraphRun: (variant, input, o) => outputs.set(`${variant} ${input}`, o['last_hidden_state']!) });
  return { report, outputs };
}

describe('torch.onnx.export and quantize_dynamic graphs', () => {
  it('the reader indexes them: every node, the initializers with their byte ranges, the declared inputs and outputs', () => {
    for (const [file, ops] of [['model.onnx', ['Conv', 'MatMul', 'Softmax']], ['model_quantized.onnx', ['DynamicQuantizeLinear', 'MatMulInteger']]] as const) {
      const bytes = readFileSync(join(FOREIGN, file));
      const index = readOnnxModel(new BufferSource(bytes));
      expect(index.inputs.map((i) => i.name)).toContain('input_values');
      expect(index.outputs.map((o) => o.name)).toEqual(['last_hidden_state']);
      const types = new Set(index.nodes.map((n) => n.opType));
      for (const op of ops) expect(types).toContain(op);
      // every initializer is inline, and its bytes lie inside its TensorProto inside the file
      for (const init of index.initializers) {
        expect(init.external).toBeNull();
        const data = init.rawData ?? init.message;
        expect(data.offset).toBeGreaterThanOrEqual(init.message.offset);
        expect(data.offset + data.length).toBeLessThanOrEqual(Math.min(bytes.byteLength, init.message.offset + init.message.length));
      }
      expect(index.initializers.length).toBeGreaterThan(20);
    }
  });

  it('verify passes them whole and in pieces, with the same outputs (fp32 bit for bit)', async () => {
    const whole = await runs('whole');
    const pieces = await runs(0.03);
    for (const r of [whole.report, pieces.report]) expect(r.checks.find((c) => c.name === 'parity')!.passed).toBe(true);
    const parity = pieces.report.checks.find((c) => c.name === 'parity')!;
    expect(parity.summary).toMatch(/run piecewise to stay within the memory budget: fp32 in \d+ pieces, q8 in \d+ pieces/);
    const piecesOf = (variant: string) => (parity.items.find((i) => i.subject.startsWith(variant))!.details as { pieces: number }).pieces;
    expect(piecesOf('fp32')).toBeGreaterThan(2);
    expect(piecesOf('q8')).toBeGreaterThan(1);
    expect([...pieces.outputs.keys()].sort()).toEqual(['fp32 batch', 'fp32 single', 'q8 batch', 'q8 single']);
    for (const [key, o] of pieces.outputs) {
      const w = whole.outputs.get(key)!;
      expect(o.shape).toEqual(w.shape);
      let maxAbs = 0;
      for (let i = 0; i < o.data.length; i++) maxAbs = Math.max(maxAbs, Math.abs(o.data[i]! - w.data[i]!));
      // fp32: the same kernels on the same values; q8: the dynamic quantization of a piece's input sees the same tensor
      expect(maxAbs).toBeLessThanOrEqual(key.startsWith('fp32') ? 0 : 1e-4);
    }
  });

  it('the cuts fall where one tensor crosses (the residual stream between encoder layers)', () => {
    const index = readOnnxModel(new BufferSource(readFileSync(join(FOREIGN, 'model.onnx'))));
    const plan = planPieces(index, 0.03 * 2 ** 20);
    expect(plan.kind).toBe('pieces');
    if (plan.kind !== 'pieces') return;
    for (const piece of plan.pieces.slice(1)) expect(piece.inputs).toHaveLength(1);
  });
});
