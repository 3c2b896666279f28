/**
 * Piecewise runs (src/verify/piecewise.ts): under a small memory budget a graph is cut into pieces, each loaded once,
 * run on every input and released; the outputs equal the whole-graph run's (measured tolerances below), the report
 * says how many pieces, a foreign topological order works, a graph tampered in one piece fails parity, and hostile
 * ONNX files end in typed errors and exit codes through the CLI.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { convert } from '../../src/convert.js';
import { BufferSource } from '../../src/byte-source.js';
import { readOnnxModel } from '../../src/readers/onnx-model.js';
import { type GraphOutput, openGraph, openVariant } from '../../src/verify/onnx-runner.js';
import { planPieces } from '../../src/verify/piecewise.js';
import { speechLikeSignal } from '../../src/verify/inputs.js';
import { type CheckResult, type VerifyReport, verify } from '../../src/verify/index.js';
import { F, Msg } from '../../src/writers/onnx/proto.js';
import { errorCode, Sandbox } from '../helpers/sandbox.js';
import { copyFolder, loadTensors, replaceBytes } from './corrupt.js';
import { FIXTURES } from './helpers.js';

const LARGE = join(FIXTURES, 'checkpoints', 'fairseq_large_dictconfig.pt');
/** MiB: the fixture's fp32 graph is ~0.18 MiB, so this cuts every variant into several pieces */
const SMALL_BUDGET = 0.04;

let root: string;
let inline: string; // fp32 + fp16 + q8, initializers inline
let external: string; // fp32, initializers in model.onnx_data
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'verify-piecewise-'));
  inline = join(root, 'inline');
  external = join(root, 'external');
  await convert(LARGE, { out: inline, onnx: ['fp32', 'fp16', 'q8'] });
  await convert(LARGE, { out: external, onnx: ['fp32'], externalData: true });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const parityOf = (r: VerifyReport): CheckResult => r.checks.find((c) => c.name === 'parity')!;

/** verify's graph outputs, by "variant input output". */
async function verifyRuns(dir: string, memoryBudgetMiB: number | 'whole'): Promise<{ report: VerifyReport; runs: Map<string, GraphOutput> }> {
  const runs = new Map<string, GraphOutput>();
  const report = await verify(dir, { memoryBudgetMiB, onGraphRun: (variant, input, outputs) => Object.entries(outputs).forEach(([name, o]) => runs.set(`${variant} ${input} ${name}`, o)) });
  return { report, runs };
}

function maxAbs(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('planPieces', () => {
  it('cuts the fixture graph into contiguous pieces within the budget, between encoder layers where few tensors cross', () => {
    const index = readOnnxModel(new BufferSource(readFileSync(join(inline, 'onnx/model.onnx'))));
    const plan = planPieces(index, SMALL_BUDGET * 2 ** 20);
    expect(plan.kind).toBe('pieces');
    if (plan.kind !== 'pieces') return;
    expect(plan.pieces.length).toBeGreaterThan(2);
    expect(plan.pieces[0]!.start).toBe(0);
    expect(plan.pieces.at(-1)!.end).toBe(index.nodes.length);
    for (let k = 1; k < plan.pieces.length; k++) expect(plan.pieces[k]!.start).toBe(plan.pieces[k - 1]!.end);
    for (const p of plan.pieces) {
      expect(p.cost).toBeLessThanOrEqual(SMALL_BUDGET * 2 ** 20);
      // every initializer a piece's nodes read is in it, and no other
      const reads = new Set(index.nodes.slice(p.start, p.end).flatMap((n) => n.inputs));
      expect(p.initializers.map((i) => index.initializers[i]!.name).sort()).toEqual(index.initializers.map((i) => i.name).filter((n) => reads.has(n)).sort());
    }
    const graphInputs = index.inputs.map((i) => i.name);
    expect(graphInputs).toEqual(['input_values', 'attention_mask']);
    expect(plan.pieces[0]!.inputs.every((name) => graphInputs.includes(name))).toBe(true);
    expect(plan.pieces.at(-1)!.outputs).toEqual(['last_hidden_state']);
    // later pieces read at most the residual stream and the attention mask (this model takes attention_mask)
    for (const p of plan.pieces.slice(1)) expect(p.inputs.length).toBeLessThanOrEqual(2);
    expect(planPieces(index, 1 << 30)).toMatchObject({ kind: 'whole', reason: 'it fits the memory budget' });
  });

  it('a graph whose nodes are not in topological order runs whole, saying why', () => {
    const index = readOnnxModel(new BufferSource(readFileSync(join(inline, 'onnx/model.onnx'))));
    const swapped = { ...index, nodes: [index.nodes[1]!, index.nodes[0]!, ...index.nodes.slice(2)] };
    const plan = planPieces(swapped, SMALL_BUDGET * 2 ** 20);
    expect(plan).toMatchObject({ kind: 'whole' });
    expect(plan.kind === 'whole' && plan.reason).toMatch(/^it cannot be cut: its nodes are not stored in topological order \(node 0 reads ".+" from node 1\)$/);
  });
});

describe('verify in pieces', () => {
  let whole: Awaited<ReturnType<typeof verifyRuns>>;
  let pieces: Awaited<ReturnType<typeof verifyRuns>>;
  beforeAll(async () => {
    whole = await verifyRuns(inline, 'whole');
    pieces = await verifyRuns(inline, SMALL_BUDGET);
  });

  it('passes, and every item of a piecewise variant says how many pieces (summary too)', () => {
    expect(pieces.report.passed).toBe(true);
    const parity = parityOf(pieces.report);
    expect(parity.summary).toMatch(/\(run piecewise to stay within the memory budget: fp32 in \d+ pieces, fp16 in \d+ pieces, q8 in \d+ pieces\)$/);
    for (const item of parity.items) expect((item.details as { pieces: number }).pieces, item.subject).toBeGreaterThan(1);
    expect(parityOf(whole.report).items.every((i) => i.details === undefined)).toBe(true);
    expect(parityOf(whole.report).summary).not.toMatch(/piecewise/);
  });

  it('the outputs equal the whole-graph run: fp32 and q8 bit for bit, fp16 within 1 fp16 ulp at these magnitudes (measured 0.0039)', () => {
    expect([...pieces.runs.keys()].sort()).toEqual([...whole.runs.keys()].sort());
    expect(pieces.runs.size).toBe(6); // 3 variants × (single, batch), last_hidden_state
    for (const [key, w] of whole.runs) {
      const p = pieces.runs.get(key)!;
      expect(p.shape).toEqual(w.shape);
      const d = maxAbs(p.data, w.data);
      if (key.startsWith('fp16')) expect(d, key).toBeLessThanOrEqual(2 ** -8);
      else expect(d, key).toBe(0);
    }
  });

  it('each piece is loaded once for all inputs, one session at a time, and released', async () => {
    const create = ort.InferenceSession.create.bind(ort.InferenceSession) as (m: Uint8Array, o?: ort.InferenceSession.SessionOptions) => Promise<ort.InferenceSession>;
    let open = 0;
    let maxOpen = 0;
    let loads = 0;
    const runsPerSession: number[] = [];
    vi.spyOn(ort.InferenceSession, 'create').mockImplementation((async (m: Uint8Array, o?: ort.InferenceSession.SessionOptions) => {
      const session = await create(m, o);
      loads++;
      maxOpen = Math.max(maxOpen, ++open);
      const k = runsPerSession.push(0) - 1;
      const run = session.run.bind(session);
      session.run = (async (feeds: ort.InferenceSession.FeedsType) => {
        runsPerSession[k]!++;
        return run(feeds);
      }) as typeof session.run;
      const release = session.release.bind(session);
      session.release = async () => {
        open--;
        await release();
      };
      return session;
    }) as unknown as typeof ort.InferenceSession.create);
    const graph = await openVariant(inline, 'fp32', SMALL_BUDGET * 2 ** 20);
    const signal = speechLikeSignal(16000);
    const results = await graph.runAll!([
      { name: 'a', inputValues: signal, batch: 1, length: 16000, mask: null },
      { name: 'b', inputValues: Float32Array.from(signal, (x) => x / 2), batch: 1, length: 16000, mask: null },
    ]);
    await graph.release();
    expect(loads).toBe(graph.pieces!.pieces);
    expect(runsPerSession).toEqual(Array(loads).fill(2));
    expect(maxOpen).toBe(1);
    expect(open).toBe(0);
    expect(results.every((r) => !(r instanceof Error))).toBe(true);
  });

  it('external data (model.onnx_data): pieces equal the whole graph bit for bit', async () => {
    const signal = speechLikeSignal(16000);
    const w = await openGraph(external, 'fp32');
    const a = await w.run(signal, 1, 16000, null);
    await w.release();
    const g = await openVariant(external, 'fp32', SMALL_BUDGET * 2 ** 20);
    expect(g.pieces!.pieces).toBeGreaterThan(2);
    const b = await g.run(signal, 1, 16000, null);
    await g.release();
    expect(maxAbs(b.last_hidden_state!.data, a.last_hidden_state!.data)).toBe(0);
  });
});

/** model.onnx rewritten with its nodes in another topological order (each node as late as possible, Kahn from the outputs). */
function reorderNodes(path: string): number {
  const bytes = readFileSync(path);
  const index = readOnnxModel(new BufferSource(bytes));
  const n = index.nodes.length;
  const producer = new Map<string, number>();
  index.nodes.forEach((node, i) => node.outputs.forEach((o) => producer.set(o, i)));
  const consumers = index.nodes.map(() => 0);
  index.nodes.forEach((node) => node.inputs.forEach((name) => producer.has(name) && consumers[producer.get(name)!]!++));
  // emit from the back: a node once all its consumers are placed; ties by descending index reversed → a different order
  const order: number[] = [];
  const ready = index.nodes.map((_, i) => i).filter((i) => consumers[i] === 0);
  while (ready.length) {
    ready.sort((a, b) => b - a);
    const i = ready.pop()!; // the lowest index first, from the back: moves independent branches
    order.push(i);
    for (const name of index.nodes[i]!.inputs) {
      const p = producer.get(name);
      if (p !== undefined && --consumers[p]! === 0) ready.push(p);
    }
  }
  order.reverse();
  expect(order.length).toBe(n);
  const graph = new Msg();
  for (const i of order) graph.bytes(F.graph.node, index.nodes[i]!.bytes);
  graph.string(F.graph.name, 'reordered');
  for (const init of index.initializers) graph.bytes(F.graph.initializer, bytes.subarray(init.message.offset, init.message.offset + init.message.length));
  for (const v of index.inputs) graph.bytes(F.graph.input, v.bytes);
  for (const v of index.outputs) graph.bytes(F.graph.output, v.bytes);
  const model = new Msg().message(F.model.graph, graph).int(F.model.irVersion, index.irVersion!);
  for (const o of index.opsetImports) model.bytes(F.model.opsetImport, o);
  const segments = model.finish() as Uint8Array[];
  writeFileSync(path, Buffer.concat(segments));
  return order.filter((i, k) => i !== k).length;
}

describe('convert --verify in pieces', () => {
  it("the report's accuracy figures, taken from verify's piecewise runs, equal a conversion without --verify (fp32, q8)", async () => {
    const variants = ['fp32', 'q8'] as const;
    const plain = await convert(LARGE, { out: join(root, 'cv-plain'), onnx: [...variants] });
    const verified = await convert(LARGE, { out: join(root, 'cv-pieces'), onnx: [...variants], verify: { memoryBudgetMiB: SMALL_BUDGET } });
    expect(verified.verification!.passed).toBe(true);
    expect(parityOf(verified.verification!).items.every((i) => (i.details as { pieces: number }).pieces > 1)).toBe(true);
    const accuracy = (r: typeof plain) => (r.report.onnx as { variant: string; accuracy: unknown }[]).map((o) => [o.variant, o.accuracy]);
    expect(accuracy(verified)).toEqual(accuracy(plain));
    expect(accuracy(verified).every(([, a]) => a !== null)).toBe(true);
  });
});

describe('foreign files and tampering', () => {
  it('a graph stored in another topological order (fields in another order too) runs in pieces with the same outputs', async () => {
    const dir = copyFolder(inline, root);
    unlinkSync(join(dir, 'onnx/model_fp16.onnx'));
    unlinkSync(join(dir, 'onnx/model_quantized.onnx'));
    const moved = reorderNodes(join(dir, 'onnx/model.onnx'));
    expect(moved).toBeGreaterThan(10);
    const signal = speechLikeSignal(16000);
    const w = await openGraph(inline, 'fp32');
    const a = await w.run(signal, 1, 16000, null);
    await w.release();
    const g = await openVariant(dir, 'fp32', SMALL_BUDGET * 2 ** 20);
    expect(g.pieces!.pieces).toBeGreaterThan(2);
    const b = await g.run(signal, 1, 16000, null);
    await g.release();
    expect(maxAbs(b.last_hidden_state!.data, a.last_hidden_state!.data)).toBe(0);
    const r = await verify(dir, { memoryBudgetMiB: SMALL_BUDGET });
    expect(r.passed).toBe(true);
  });

  it('a graph tampered in one piece fails parity, reported with its pieces', async () => {
    const dir = copyFolder(inline, root);
    unlinkSync(join(dir, 'onnx/model_fp16.onnx'));
    unlinkSync(join(dir, 'onnx/model_quantized.onnx'));
    // a middle layer's LayerNorm weight (stored as is, not transposed), doubled inside model.onnx only
    const name = 'encoder.layers.1.final_layer_norm.weight';
    const index = readOnnxModel(new BufferSource(readFileSync(join(dir, 'onnx/model.onnx'))));
    const plan = planPieces(index, SMALL_BUDGET * 2 ** 20);
    const k = plan.kind === 'pieces' ? plan.pieces.findIndex((p) => p.initializers.some((i) => index.initializers[i]!.name === name)) : -1;
    expect(k).toBeGreaterThan(0); // not the first piece
    const w = loadTensors(dir).get(name)!;
    const doubled = new Float32Array(new Float32Array(w.bytes().slice().buffer).map((x) => x * 2));
    expect(replaceBytes(join(dir, 'onnx/model.onnx'), w.bytes(), new Uint8Array(doubled.buffer))).toBeGreaterThan(0);
    const r = await verify(dir, { memoryBudgetMiB: SMALL_BUDGET });
    const parity = parityOf(r);
    expect(parity.passed).toBe(false);
    const failing = parity.items.filter((i) => !i.passed);
    expect(failing.map((i) => i.subject).sort()).toEqual(['fp32 batch last_hidden_state', 'fp32 single last_hidden_state']);
    for (const i of failing) {
      expect((i.details as { pieces: number }).pieces).toBeGreaterThan(2);
      expect(i.comparison!.maxAbs).toBeGreaterThan(1e-3);
    }
  });
});

describe('hostile ONNX files through the CLI', () => {
  const sandbox = new Sandbox();
  afterAll(() => sandbox.dispose());

  function folderWith(edit: (dir: string) => void): string {
    const dir = copyFolder(external, sandbox.root);
    edit(dir);
    return dir;
  }
  const run = (dir: string, ...extra: string[]) => sandbox.run(['verify', dir, '--json', '--quiet', ...extra], { timeoutMs: 60_000 });
  const parityItems = (stdout: string) => (JSON.parse(stdout) as VerifyReport).checks.find((c) => c.name === 'parity')!.items;

  it('external data at "../x": exit 3, E_ONNX_EXTERNAL_PATH', () => {
    const dir = folderWith((d) => {
      const path = join(d, 'onnx/model.onnx');
      const bytes = readFileSync(path);
      // same length, so the protobuf stays well-formed: "model.onnx_data" → "../model.onnx_d"
      const at = bytes.indexOf('model.onnx_data');
      expect(at).toBeGreaterThan(0);
      bytes.write('../model.onnx_d', at);
      writeFileSync(path, bytes);
    });
    const r = run(dir);
    expect(r.status).toBe(3);
    expect(errorCode(r.stderr)).toBe('E_ONNX_EXTERNAL_PATH');
    expect(r.stderr).toMatch(/keeps its data at "\.\.\/model\.onnx_d", outside the model's folder/);
  });

  it('an absolute external location: exit 3, E_ONNX_EXTERNAL_PATH', () => {
    const dir = folderWith((d) => {
      const path = join(d, 'onnx/model.onnx');
      const bytes = readFileSync(path);
      bytes.write('/etc/passwd\0\0\0\0', bytes.indexOf('model.onnx_data'));
      writeFileSync(path, bytes);
    });
    const r = run(dir);
    expect(r.status).toBe(3);
    expect(errorCode(r.stderr)).toBe('E_ONNX_EXTERNAL_PATH');
  });

  it('a truncated graph: exit 1, the parity item carries E_ONNX_TRUNCATED', () => {
    const dir = folderWith((d) => {
      const path = join(d, 'onnx/model.onnx');
      writeFileSync(path, readFileSync(path).subarray(0, 5000));
    });
    const r = run(dir);
    expect(r.status).toBe(1);
    const items = parityItems(r.stdout);
    expect(items.map((i) => [i.subject, i.details?.code])).toEqual([['fp32', 'E_ONNX_TRUNCATED']]);
    expect(items[0]!.message).toMatch(/^E_ONNX_TRUNCATED: onnx\/model\.onnx cannot be read: .+truncated/);
  });

  it('external data shorter than the graph says: exit 1, E_ONNX_EXTERNAL_DATA', () => {
    const dir = folderWith((d) => {
      const path = join(d, 'onnx/model.onnx_data');
      writeFileSync(path, readFileSync(path).subarray(0, 4096));
    });
    const r = run(dir);
    expect(r.status).toBe(1);
    expect(parityItems(r.stdout).map((i) => i.details?.code)).toEqual(['E_ONNX_EXTERNAL_DATA']);
  });

  it('--memory-budget that is not a number: exit 2, E_USAGE_MEMORY_BUDGET; "whole" and 0 are accepted', () => {
    const r = run(external, '--memory-budget', 'lots');
    expect(r.status).toBe(2);
    expect(errorCode(r.stderr)).toBe('E_USAGE_MEMORY_BUDGET');
    const w = run(external, '--memory-budget', 'whole');
    expect(w.status).toBe(0);
    expect(parityItems(w.stdout).every((i) => i.details === undefined)).toBe(true);
    const p = run(external, '--memory-budget', String(SMALL_BUDGET));
    expect(p.status).toBe(0);
    expect(parityItems(p.stdout).every((i) => (i.details as { pieces: number }).pieces > 2)).toBe(true);
  });
});
