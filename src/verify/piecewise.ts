/**
 * Piecewise runs of big ONNX graphs: the graph's nodes, in the order stored (topological: our builder writes the
 * encoder layer by layer), are cut into contiguous pieces whose estimated session memory stays under a budget, and
 * each piece becomes a model of its own, with exactly the initializers its nodes use, copied byte for byte as stored.
 * Verify loads one piece at a time, runs every input through it, releases it and loads the next, so its memory
 * follows the biggest piece instead of the whole model (bench/RESULTS.md, "piecewise sessions").
 *
 * Cuts are chosen where few tensors cross (between encoder layers only the residual stream and the attention mask
 * do). A piece's inputs are the tensors it reads that graph inputs or earlier pieces produce; its outputs, the tensors
 * it produces that later pieces read or that are graph outputs. Graph inputs and outputs keep their ValueInfo; a
 * tensor crossing a cut is declared with the element type its producer gave it at run time and symbolic dims, so one
 * piece model serves every input shape (a piece is built after the one before it has run).
 *
 * No node:* here: the runner (onnx-runner.ts) supplies the bytes through a ByteSource.
 */
import type { ByteSource } from '../byte-source.js';
import { UsageError } from '../errors.js';
import type { OnnxInitializerRecord, OnnxModelIndex } from '../readers/onnx-model.js';
import { F, Msg, stringEntry } from '../writers/onnx/proto.js';

/** Default budget: graphs whose session would need more run in pieces (x-large's, not base's or the fixtures'). */
export const DEFAULT_MEMORY_BUDGET_MIB = 1024;

/** A `memoryBudgetMiB` option (MiB; 0 or 'whole': every graph whole), or a usage error. */
export function checkMemoryBudget(value: unknown): number | 'whole' {
  if (value === 'whole' || (typeof value === 'number' && Number.isFinite(value) && value >= 0)) return value;
  throw new UsageError('E_USAGE_MEMORY_BUDGET', `memoryBudgetMiB is ${JSON.stringify(value)}; give a number of MiB (0 or 'whole' runs every graph whole)`);
}

const MIB = 1 << 20;
const DTYPE_FLOAT16 = 10;
const DTYPE_INT8 = 3;
const DTYPE_UINT8 = 2;

/**
 * What an initializer costs in an onnxruntime CPU session, per stored byte. fp16: the x86 provider has no fp16
 * MatMul/Conv kernels, so it casts to float32 and constant-folds the casts while the fp16 data is still held
 * (1 + 2 bytes per stored byte; x-large: 1.93 GB of fp16 initializers, a 5.6–6.2 GB session). 8-bit: prepacked
 * copies next to the stored weights (x-large model_quantized.onnx, 1.02 GB: 1.69 GB). Other types: used in place.
 */
export function sessionBytesOf(init: Pick<OnnxInitializerRecord, 'dataType' | 'dataBytes'>): number {
  if (init.dataType === DTYPE_FLOAT16) return 3 * init.dataBytes;
  if (init.dataType === DTYPE_INT8 || init.dataType === DTYPE_UINT8) return 1.7 * init.dataBytes;
  return init.dataBytes;
}

export interface Piece {
  /** nodes [start, end) of the graph */
  readonly start: number;
  readonly end: number;
  /** indices into index.initializers, in stored order */
  readonly initializers: readonly number[];
  /** estimated session bytes */
  readonly cost: number;
  /** tensors the piece reads from graph inputs or earlier pieces, in first-use order */
  readonly inputs: readonly string[];
  /** tensors the piece produces for later pieces or as graph outputs, in production order */
  readonly outputs: readonly string[];
}

export type PiecePlan =
  | { readonly kind: 'whole'; readonly cost: number; readonly reason: string }
  | { readonly kind: 'pieces'; readonly cost: number; readonly pieces: readonly Piece[] };

/** Estimated session bytes of the whole graph. */
export function graphCost(index: OnnxModelIndex): number {
  return index.initializers.reduce((a, i) => a + sessionBytesOf(i), 0) + index.nodes.reduce((a, n) => a + n.bytes.byteLength, 0);
}

/** Why the graph cannot be cut, or null. */
function unsplittable(index: OnnxModelIndex, produced: Map<string, number>, graphInputs: Set<string>, initializers: Map<string, number>): string | null {
  if (index.nodes.some((n) => n.hasSubgraph)) return 'it has nodes with subgraphs (If, Loop, Scan), whose bodies may read any tensor';
  for (let i = 0; i < index.nodes.length; i++) {
    for (const name of index.nodes[i]!.inputs) {
      if (name === '' || initializers.has(name) || graphInputs.has(name)) continue;
      const p = produced.get(name);
      if (p === undefined) return `node ${i} (${index.nodes[i]!.opType}) reads "${name}", which no node, input or initializer provides`;
      if (p >= i) return `its nodes are not stored in topological order (node ${i} reads "${name}" from node ${p})`;
    }
  }
  for (const o of index.outputs) if (!produced.has(o.name)) return `graph output "${o.name}" is not produced by a node`;
  return null;
}

/**
 * Cuts the graph into pieces of at most `budget` estimated session bytes (a node whose own initializers exceed it is
 * a piece alone), or says why it runs whole: it fits, or it cannot be cut.
 */
export function planPieces(index: OnnxModelIndex, budgetBytes: number): PiecePlan {
  const cost = graphCost(index);
  if (!(budgetBytes > 0) || cost <= budgetBytes) return { kind: 'whole', cost, reason: budgetBytes > 0 ? 'it fits the memory budget' : 'piecewise runs are off' };
  const nodes = index.nodes;
  const n = nodes.length;
  const initializers = new Map(index.initializers.map((init, i) => [init.name, i]));
  const graphInputs = new Set(index.inputs.map((i) => i.name).filter((name) => !initializers.has(name)));
  const produced = new Map<string, number>();
  for (let i = 0; i < n; i++) for (const o of nodes[i]!.outputs) if (o !== '' && !produced.has(o)) produced.set(o, i);
  const reason = unsplittable(index, produced, graphInputs, initializers);
  if (reason) return { kind: 'whole', cost, reason: `it cannot be cut: ${reason}` };
  if (n < 2) return { kind: 'whole', cost, reason: 'it has a single node' };

  // last node reading each tensor; crossing[b] = tensors made before boundary b (node b starts a piece) and read at or after it
  const lastRead = new Map<string, number>();
  for (let i = 0; i < n; i++) for (const name of nodes[i]!.inputs) if (name !== '' && !initializers.has(name)) lastRead.set(name, i);
  const delta = new Int32Array(n + 1);
  for (const [name, last] of lastRead) {
    const from = (produced.get(name) ?? -1) + 1;
    if (last >= from) {
      delta[from]! += 1;
      delta[last + 1]! -= 1;
    }
  }
  const crossing = new Int32Array(n + 1);
  for (let b = 0, run = 0; b <= n; b++) crossing[b] = run += delta[b]!;

  const nodeInits = nodes.map((node) => [...new Set(node.inputs.filter((name) => initializers.has(name)))].map((name) => initializers.get(name)!));
  const initCost = index.initializers.map(sessionBytesOf);
  const bounds: number[] = [0];
  let start = 0;
  while (start < n) {
    // feasible ends: the piece [start, end) within budget; costs[e] = the piece's cost with end e
    const used = new Set<number>();
    let pieceCost = 0;
    const costs: number[] = [];
    let end = start;
    while (end < n) {
      let add = nodes[end]!.bytes.byteLength;
      for (const i of nodeInits[end]!) if (!used.has(i)) add += initCost[i]!;
      if (end > start && pieceCost + add > budgetBytes) break;
      for (const i of nodeInits[end]!) used.add(i);
      pieceCost += add;
      costs[++end] = pieceCost;
    }
    if (end === n) {
      bounds.push(n);
      break;
    }
    // the cut with the fewest crossing tensors in the upper half of the feasible range (later on ties)
    let best = end;
    for (let b = end; b > start && costs[b]! >= costs[end]! / 2; b--) if (crossing[b]! < crossing[best]!) best = b;
    bounds.push(best);
    start = best;
  }

  const graphOutputs = new Set(index.outputs.map((o) => o.name));
  const pieces: Piece[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const [s, e] = [bounds[k]!, bounds[k + 1]!];
    const inits = new Set<number>();
    const inputs: string[] = [];
    const seen = new Set<string>();
    const made = new Set<string>();
    const outputs: string[] = [];
    for (let i = s; i < e; i++) {
      for (const name of nodes[i]!.inputs) {
        if (name === '') continue;
        const init = initializers.get(name);
        if (init !== undefined && !graphInputs.has(name)) inits.add(init);
        else if (!made.has(name) && !seen.has(name)) {
          seen.add(name);
          inputs.push(name);
        }
      }
      for (const name of nodes[i]!.outputs) {
        if (name === '') continue;
        made.add(name);
        if (graphOutputs.has(name) || (lastRead.get(name) ?? -1) >= e) outputs.push(name);
      }
    }
    const initializersOf = [...inits].sort((a, b) => a - b);
    const pieceCost = initializersOf.reduce((a, i) => a + initCost[i]!, 0) + nodes.slice(s, e).reduce((a, node) => a + node.bytes.byteLength, 0);
    pieces.push({ start: s, end: e, initializers: initializersOf, cost: pieceCost, inputs, outputs });
  }
  return { kind: 'pieces', cost, pieces };
}

/** A tensor crossing a cut, as the piece that reads it declares it. */
export interface CrossingType {
  /** TensorProto.DataType */
  readonly elemType: number;
  readonly rank: number;
}

/** ort.Tensor type names → TensorProto.DataType. */
export const ORT_TENSOR_TYPES: Readonly<Record<string, number>> = {
  float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, string: 8, bool: 9, float16: 10, float64: 11, uint32: 12, uint64: 13,
};

function crossingValueInfo(name: string, type: CrossingType | null): Msg {
  const info = new Msg().string(F.valueInfo.name, name);
  if (!type) return info; // a piece output: onnxruntime infers its type from the node that makes it
  const shape = new Msg();
  for (let d = 0; d < type.rank; d++) shape.message(F.shape.dim, new Msg().string(F.dim.param, `${name}__${d}`));
  return info.message(F.valueInfo.type, new Msg().message(F.type.tensorType, new Msg().int(F.tensorType.elemType, type.elemType).message(F.tensorType.shape, shape)));
}

/** Inline initializers at least this big are referenced in place (as external data of the model file itself). */
const REFER_MIN_BYTES = 4096;

/** The initializer as external data at its raw_data payload inside the model file `file` (same bytes, read by the session). */
function referenceTo(init: OnnxInitializerRecord, file: string): Msg {
  const m = new Msg();
  for (const d of init.dims) m.int(F.tensor.dims, d);
  m.int(F.tensor.dataType, init.dataType).string(F.tensor.name, init.name);
  m.message(F.tensor.externalData, stringEntry('location', file));
  m.message(F.tensor.externalData, stringEntry('offset', String(init.rawData!.offset)));
  m.message(F.tensor.externalData, stringEntry('length', String(init.rawData!.length)));
  return m.int(F.tensor.dataLocation, 1);
}

function concat(segments: readonly (Uint8Array | { length: number })[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const s of segments) {
    if (!(s instanceof Uint8Array)) throw new Error('piece models hold no deferred blobs');
    out.set(s, at);
    at += s.byteLength;
  }
  return out;
}

/**
 * The serialized ModelProto of one piece: ir_version, opset imports and functions as stored, the piece's nodes and
 * initializers byte for byte from `source` (the model file; external initializers keep their location, resolved
 * against the model's folder by the session), graph inputs/outputs with their stored ValueInfo and crossing tensors
 * typed by `crossingTypes` (every piece input that is not a graph input must have one).
 */
export function encodePiece(index: OnnxModelIndex, source: ByteSource, piece: Piece, k: number, crossingTypes: ReadonlyMap<string, CrossingType>, referTo: string | null = null): Uint8Array {
  const graph = new Msg();
  for (let i = piece.start; i < piece.end; i++) graph.bytes(F.graph.node, index.nodes[i]!.bytes);
  graph.string(F.graph.name, `${index.graphName || 'graph'}_piece_${k + 1}`);
  for (const i of piece.initializers) {
    const init = index.initializers[i]!;
    if (referTo !== null && init.rawData && init.rawData.length >= REFER_MIN_BYTES) graph.message(F.graph.initializer, referenceTo(init, referTo));
    else graph.bytes(F.graph.initializer, source.read(init.message.offset, init.message.length));
  }
  const graphInputs = new Map(index.inputs.map((v) => [v.name, v]));
  const graphOutputs = new Map(index.outputs.map((v) => [v.name, v]));
  for (const name of piece.inputs) {
    const stored = graphInputs.get(name);
    if (stored) graph.bytes(F.graph.input, stored.bytes);
    else {
      const type = crossingTypes.get(name);
      if (!type) throw new Error(`piece ${k + 1} reads "${name}", which no earlier piece has produced`);
      graph.message(F.graph.input, crossingValueInfo(name, type));
    }
  }
  for (const name of piece.outputs) {
    const stored = graphOutputs.get(name);
    if (stored) graph.bytes(F.graph.output, stored.bytes);
    else graph.message(F.graph.output, crossingValueInfo(name, null));
  }
  const model = new Msg();
  if (index.irVersion !== null) model.int(F.model.irVersion, index.irVersion);
  model.message(F.model.graph, graph);
  for (const opset of index.opsetImports) model.bytes(F.model.opsetImport, opset);
  for (const fn of index.functions) model.bytes(MODEL_FUNCTIONS, fn);
  return concat(model.finish(), model.length);
}

const MODEL_FUNCTIONS = 25;

/** MiB, for messages. */
export function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(bytes < 10 * MIB ? 1 : 0)} MiB`;
}
