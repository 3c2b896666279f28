/**
 * onnxruntime sessions during convert --verify: one open at a time and each released (so memory peaks at one
 * session, whatever the number of variants), float graphs opened without weight prepacking (their external weights
 * stay mapped), quantized graphs with it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { convert } from '../../src/convert.js';
import { openGraph, sessionOptionsFor } from '../../src/verify/onnx-runner.js';
import { speechLikeSignal } from '../../src/verify/inputs.js';
import { FIXTURES } from '../helpers/fixtures.js';

const CTC = join(FIXTURES, 'checkpoints', 'fairseq_ctc.pt');
const DICT = join(FIXTURES, 'checkpoints', 'fairseq_ctc.dict.ltr.txt');
const root = mkdtempSync(join(tmpdir(), 'verify-sessions-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

interface SessionLog { opened: Array<string | Uint8Array>; options: Record<string, ort.InferenceSession.SessionOptions | undefined>; maxOpen: number; open: number; released: number }

/** Wraps InferenceSession.create so that every session's creation, options and release are recorded. */
function watchSessions(): SessionLog {
  const log: SessionLog = { opened: [], options: {}, maxOpen: 0, open: 0, released: 0 };
  const create = ort.InferenceSession.create.bind(ort.InferenceSession) as (path: string, options?: ort.InferenceSession.SessionOptions) => Promise<ort.InferenceSession>;
  vi.spyOn(ort.InferenceSession, 'create').mockImplementation((async (path: string, options?: ort.InferenceSession.SessionOptions) => {
    const session = await create(path, options);
    const file = path.slice(path.lastIndexOf('/onnx/') + 1);
    log.opened.push(file);
    log.options[file] = options;
    log.open++;
    log.maxOpen = Math.max(log.maxOpen, log.open);
    const release = session.release.bind(session);
    session.release = async () => {
      log.open--;
      log.released++;
      await release();
    };
    return session;
  }) as unknown as typeof ort.InferenceSession.create);
  return log;
}

describe('onnxruntime sessions in convert --verify', () => {
  it('opens one session at a time, releases every one, and packs weights only for quantized graphs', async () => {
    const log = watchSessions();
    const out = join(root, 'three');
    const { verification } = await convert(CTC, { out, dict: DICT, onnx: ['fp32', 'fp16', 'q8'], verify: true });
    expect(verification!.passed).toBe(true);
    // verify's parity only: the report's accuracy figures come from its runs, not from a second session per graph
    expect(log.opened).toEqual(['onnx/model.onnx', 'onnx/model_fp16.onnx', 'onnx/model_quantized.onnx']);
    expect(log.maxOpen).toBe(1);
    expect(log.released).toBe(log.opened.length);
    expect(log.open).toBe(0);
    expect(log.options['onnx/model.onnx']).toEqual({ graphOptimizationLevel: 'all', extra: { session: { disable_prepacking: '1' } } });
    expect(log.options['onnx/model_fp16.onnx']).toEqual({ graphOptimizationLevel: 'all', extra: { session: { disable_prepacking: '1' } } });
    expect(log.options['onnx/model_quantized.onnx']).toEqual({ graphOptimizationLevel: 'all' });
  });

  it('--verify reports the same accuracy figures, from verify\'s runs, as a conversion without it', async () => {
    const variants = ['fp32', 'fp16', 'q8'] as const;
    const plain = await convert(CTC, { out: join(root, 'plain'), dict: DICT, onnx: [...variants] });
    const log = watchSessions();
    const verified = await convert(CTC, { out: join(root, 'verified'), dict: DICT, onnx: [...variants], verify: true });
    expect(log.opened).toHaveLength(3);
    const accuracy = (r: typeof plain) => (r.report.onnx as { variant: string; accuracy: { reference: string; cosine: number } | null }[]).map((o) => [o.variant, o.accuracy]);
    expect(accuracy(verified)).toEqual(accuracy(plain));
    for (const [variant, a] of accuracy(verified)) {
      expect(a).not.toBeNull();
      expect((a as { reference: string }).reference).toBe('onnx/model.onnx');
      if (variant === 'fp32') expect((a as { cosine: number }).cosine).toBe(1);
    }
    // the published report and card carry them
    const report = JSON.parse(readFileSync(join(root, 'verified', 'conversion_report.json'), 'utf8')) as { onnx: { accuracy: unknown }[] };
    expect(report.onnx.map((o) => o.accuracy)).toEqual(accuracy(plain).map(([, a]) => a));
    expect(readFileSync(join(root, 'verified', 'README.md'), 'utf8')).not.toContain('not measured');
  });

  it('--verify without fp32 still measures against a scratch fp32 graph', async () => {
    const { report } = await convert(CTC, { out: join(root, 'no-fp32'), dict: DICT, onnx: ['q8'], verify: true });
    const [entry] = report.onnx as { accuracy: { reference: string; cosine: number } }[];
    expect(entry!.accuracy.reference).toBe('fp32 graph built for this measurement (not published)');
    expect(entry!.accuracy.cosine).toBeGreaterThan(0.99);
  });

  it('a plain conversion measures its accuracy figures in pieces under a small budget: one session at a time, figures as whole', async () => {
    const variants = ['fp32', 'fp16', 'q8'] as const;
    const whole = await convert(CTC, { out: join(root, 'acc-whole'), dict: DICT, onnx: [...variants], memoryBudgetMiB: 'whole' });
    const log = watchSessions();
    const pieces = await convert(CTC, { out: join(root, 'acc-pieces'), dict: DICT, onnx: [...variants], memoryBudgetMiB: 0.04 });
    // every graph in pieces: more sessions than graphs, never two at once, all released
    expect(log.opened.length).toBeGreaterThan(variants.length);
    expect(log.opened.every((f) => typeof f !== 'string')).toBe(true); // pieces are loaded from memory
    expect([log.maxOpen, log.open, log.released]).toEqual([1, 0, log.opened.length]);
    const cosine = (r: typeof whole) => Object.fromEntries((r.report.onnx as { variant: string; accuracy: { cosine: number } }[]).map((o) => [o.variant, o.accuracy.cosine]));
    const [w, p] = [cosine(whole), cosine(pieces)];
    expect(p['fp32']).toBe(1);
    expect(Math.abs(p['fp16']! - w['fp16']!)).toBeLessThan(1e-5);
    expect(Math.abs(p['q8']! - w['q8']!)).toBeLessThan(1e-3);
  });

  it('refuses a bad memory budget before writing anything', async () => {
    const out = join(root, 'bad-budget');
    await expect(convert(CTC, { out, dict: DICT, onnx: ['fp32'], memoryBudgetMiB: -1 })).rejects.toMatchObject({ code: 'E_USAGE_MEMORY_BUDGET', exitCode: 2 });
    expect(existsSync(out)).toBe(false);
  });

  it('sessionOptionsFor: prepacking off for fp32 and fp16 only', () => {
    for (const v of ['fp32', 'fp16'] as const) expect(sessionOptionsFor(v).extra).toEqual({ session: { disable_prepacking: '1' } });
    for (const v of ['q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'] as const) expect(sessionOptionsFor(v).extra).toBeUndefined();
  });

  it('an fp32 graph with external data run unpacked agrees with the packed default to float32 rounding', async () => {
    const out = join(root, 'external');
    await convert(CTC, { out, dict: DICT, onnx: ['fp32'], externalData: true });
    const input = speechLikeSignal(16000);
    const graph = await openGraph(out, 'fp32');
    const unpacked = (await graph.run(input, 1, input.length, null)).logits!;
    await graph.release();
    const packed = await ort.InferenceSession.create(join(out, 'onnx', 'model.onnx'), { graphOptimizationLevel: 'all' });
    const feeds: Record<string, ort.Tensor> = { input_values: new ort.Tensor('float32', input, [1, input.length]) };
    if (packed.inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(input.length).fill(1n), [1, input.length]);
    const result = (await packed.run(feeds)).logits!.data as Float32Array;
    await packed.release();
    expect(unpacked.data.length).toBe(result.length);
    let maxAbs = 0, scale = 0;
    for (let i = 0; i < result.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(unpacked.data[i]! - result[i]!));
      scale = Math.max(scale, Math.abs(result[i]!));
    }
    expect(scale).toBeGreaterThan(0);
    expect(maxAbs).toBeLessThanOrEqual(1e-5 * Math.max(1, scale));
  });
});
