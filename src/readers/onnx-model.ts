/**
 * A bounded index of an ONNX ModelProto, read from a ByteSource without reading initializer payloads: every node's
 * bytes (small) with its inputs, outputs, op type and domain; every initializer's place in the file (the TensorProto
 * message and, inline, its raw_data payload) or in its external data file; the graph's inputs and outputs. It serves
 * verify's piecewise runs (src/verify/piecewise.ts), which rebuild sub-models from these byte ranges, so a 2 GB
 * inline fp16 graph is indexed in a few MB.
 *
 * Fields may come in any order (protobuf). Everything read is bounded: lengths within their message and the file,
 * counts, sizes of the messages that are read whole; nesting is fixed by the walk (model → graph → node → attribute,
 * value info → type → shape), nested graphs are only detected, never walked. A folder is untrusted, so external data locations
 * must be plain relative paths inside the model's folder. Sparse initializers are refused (no graph we verify has them).
 */
import type { ByteSource } from '../byte-source.js';
import { CorruptInputError, UnsafeInputError, UnsupportedModelError } from '../errors.js';

export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

export interface OnnxNodeRecord {
  /** the NodeProto message, as stored */
  readonly bytes: Uint8Array;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly opType: string;
  readonly domain: string;
  /** a graph-valued attribute (If, Loop, Scan): its body may read outer tensors by name */
  readonly hasSubgraph: boolean;
}

export interface ExternalPlace {
  /** relative to the model file's folder */
  readonly location: string;
  readonly offset: number;
  /** null when the entry is absent: the rest of the file */
  readonly length: number | null;
}

export interface OnnxInitializerRecord {
  readonly name: string;
  readonly dataType: number;
  readonly dims: readonly number[];
  /** the TensorProto message in the model file */
  readonly message: ByteRange;
  /** the raw_data payload in the model file (inline data) */
  readonly rawData: ByteRange | null;
  readonly external: ExternalPlace | null;
  /** bytes of tensor data, wherever they are (raw_data, typed fields or external) */
  readonly dataBytes: number;
}

export interface OnnxValueInfoRecord {
  readonly name: string;
  /** the ValueInfoProto message, as stored */
  readonly bytes: Uint8Array;
  /** TensorProto.DataType of a tensor type; null when not a tensor or not given */
  readonly elemType: number | null;
  /** number of dims; null when the shape is not given */
  readonly rank: number | null;
}

export interface OnnxModelIndex {
  readonly name: string;
  readonly irVersion: number | null;
  /** OperatorSetIdProto messages, as stored */
  readonly opsetImports: readonly Uint8Array[];
  /** FunctionProto messages (model-local functions), as stored */
  readonly functions: readonly Uint8Array[];
  readonly graphName: string;
  readonly nodes: readonly OnnxNodeRecord[];
  readonly initializers: readonly OnnxInitializerRecord[];
  readonly inputs: readonly OnnxValueInfoRecord[];
  readonly outputs: readonly OnnxValueInfoRecord[];
}

export interface OnnxReadLimits {
  maxNodes: number;
  maxInitializers: number;
  /** graph inputs, outputs and value_info entries together */
  maxValueInfos: number;
  /** a node, value info, opset or function message read whole */
  maxMessageBytes: number;
  /** node inputs/outputs, tensor dims, attributes, external data entries */
  maxRepeated: number;
  maxNameBytes: number;
}

export const DEFAULT_ONNX_READ_LIMITS: Readonly<OnnxReadLimits> = {
  maxNodes: 1_000_000,
  maxInitializers: 1_000_000,
  maxValueInfos: 1_000_000,
  maxMessageBytes: 64 << 20,
  maxRepeated: 100_000,
  maxNameBytes: 64 << 10,
};

/** ModelProto / GraphProto / NodeProto / TensorProto / ValueInfoProto field numbers (onnx.proto). */
const MODEL = { irVersion: 1, graph: 7, opsetImport: 8, functions: 25 } as const;
const GRAPH = { node: 1, name: 2, initializer: 5, input: 11, output: 12, sparseInitializer: 15 } as const;
const NODE = { input: 1, output: 2, opType: 4, attribute: 5, domain: 7 } as const;
const ATTRIBUTE = { g: 6, graphs: 11, type: 20 } as const;
const ATTR_GRAPH_TYPES = new Set([5, 10]); // GRAPH, GRAPHS
const TENSOR = { dims: 1, dataType: 2, segment: 3, name: 8, rawData: 9, externalData: 13, dataLocation: 14 } as const;
/** typed payload fields: float_data 4, int32_data 5, string_data 6, int64_data 7, double_data 10, uint64_data 11 */
const TENSOR_TYPED_DATA = new Set([4, 5, 6, 7, 10, 11]);
const VALUE_INFO = { name: 1, type: 2 } as const;
const TYPE = { tensorType: 1 } as const;
const TENSOR_TYPE = { elemType: 1, shape: 2 } as const;
const SHAPE = { dim: 1 } as const;
/** bytes per element of the fixed-size TensorProto.DataType values */
const DTYPE_BYTES: Readonly<Record<number, number>> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1, 21: 1, 22: 1, 23: 1 };

const WIRE = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;

function corrupt(source: ByteSource, what: string, details: Record<string, unknown> = {}): CorruptInputError {
  return new CorruptInputError('E_ONNX_PROTO', `${source.name}: ${what}; the ONNX file is damaged or not an ONNX model: export or download it again`, details);
}

function overLimit(source: ByteSource, what: string, limit: number): CorruptInputError {
  return new CorruptInputError('E_ONNX_LIMIT', `${source.name}: ${what} (limit ${limit}); the ONNX file is damaged or hand-made`, { limit });
}

/** Reads through a window of the source, so the many small reads of a header walk are not one syscall each. */
class Window {
  private start = 0;
  private bytes = new Uint8Array(0);
  constructor(
    readonly source: ByteSource,
    private readonly span = 1 << 16,
  ) {}
  byte(at: number): number {
    if (at < this.start || at >= this.start + this.bytes.byteLength) {
      if (at >= this.source.size) throw new CorruptInputError('E_ONNX_TRUNCATED', `${this.source.name}: the ONNX file ends at byte ${this.source.size} inside a field; it is truncated: export or download it again`, { size: this.source.size });
      this.start = at;
      this.bytes = this.source.read(at, Math.min(this.span, this.source.size - at)).slice();
    }
    return this.bytes[at - this.start]!;
  }
  /** A copy of [at, at + length). */
  take(at: number, length: number): Uint8Array {
    if (at >= this.start && at + length <= this.start + this.bytes.byteLength) return this.bytes.slice(at - this.start, at - this.start + length);
    return this.source.read(at, length).slice();
  }
}

/** A protobuf field: its number, wire type and either a scalar value or the byte range of a length-delimited payload. */
interface Field {
  readonly number: number;
  readonly wire: number;
  /** varint value (wire 0) as a bigint; fixed values are skipped */
  readonly value: bigint;
  /** payload start (wire 2) */
  readonly start: number;
  /** payload length (wire 2) */
  readonly length: number;
}

/** Walks the fields of the message in [from, to) of a Window or of bytes in memory. */
function* fields(at: (i: number) => number, from: number, to: number, source: ByteSource): Generator<Field> {
  let p = from;
  const varint = (): bigint => {
    let result = 0n;
    for (let i = 0; i < 10; i++) {
      if (p >= to) throw corrupt(source, `a varint runs past the end of its message (byte ${p})`, { offset: p });
      const b = at(p++);
      result |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) return result;
    }
    throw corrupt(source, `a varint is longer than 10 bytes (byte ${p})`, { offset: p });
  };
  while (p < to) {
    const tag = varint();
    const number = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (number === 0) throw corrupt(source, `field number 0 at byte ${p}`, { offset: p });
    if (wire === WIRE.varint) {
      yield { number, wire, value: varint(), start: p, length: 0 };
    } else if (wire === WIRE.fixed64 || wire === WIRE.fixed32) {
      const size = wire === WIRE.fixed64 ? 8 : 4;
      if (p + size > to) throw corrupt(source, `a fixed-size field runs past the end of its message (byte ${p})`, { offset: p });
      p += size;
      yield { number, wire, value: 0n, start: p - size, length: size };
    } else if (wire === WIRE.bytes) {
      const length = varint();
      if (length > BigInt(to - p)) {
        if (to >= source.size && BigInt(p) + length > BigInt(source.size)) {
          throw new CorruptInputError('E_ONNX_TRUNCATED', `${source.name}: field ${number} at byte ${p} declares ${length} bytes, past the end of the file (${source.size} bytes); it is truncated: export or download it again`, { offset: p, size: source.size });
        }
        throw corrupt(source, `field ${number} at byte ${p} declares ${length} bytes, more than its message holds (${to - p})`, { offset: p });
      }
      const start = p;
      p += Number(length);
      yield { number, wire, value: 0n, start, length: Number(length) };
    } else {
      throw corrupt(source, `wire type ${wire} (groups or invalid) at byte ${p}`, { offset: p, wire });
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(source: ByteSource, bytes: Uint8Array, what: string, limits: OnnxReadLimits): string {
  if (bytes.byteLength > limits.maxNameBytes) throw overLimit(source, `${what} is ${bytes.byteLength} bytes long`, limits.maxNameBytes);
  try {
    return utf8.decode(bytes);
  } catch {
    throw corrupt(source, `${what} is not valid UTF-8`);
  }
}

function safeNumber(source: ByteSource, value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(source, `${what} is ${BigInt.asIntN(64, value)}, not a size`);
  return Number(value);
}

/** Fields of a message held in memory. */
function memFields(bytes: Uint8Array, source: ByteSource): Generator<Field> {
  return fields((i) => bytes[i]!, 0, bytes.byteLength, source);
}

function payload(bytes: Uint8Array, f: Field): Uint8Array {
  return bytes.subarray(f.start, f.start + f.length);
}

/** Whether an attribute carries a graph (its body is not walked). */
function attributeHasGraph(bytes: Uint8Array, source: ByteSource): boolean {
  for (const f of memFields(bytes, source)) {
    if ((f.number === ATTRIBUTE.g || f.number === ATTRIBUTE.graphs) && f.wire === WIRE.bytes) return true;
    if (f.number === ATTRIBUTE.type && f.wire === WIRE.varint && ATTR_GRAPH_TYPES.has(Number(f.value))) return true;
  }
  return false;
}

function readNode(bytes: Uint8Array, source: ByteSource, limits: OnnxReadLimits): OnnxNodeRecord {
  const inputs: string[] = [];
  const outputs: string[] = [];
  let opType = '';
  let domain = '';
  let hasSubgraph = false;
  let repeated = 0;
  for (const f of memFields(bytes, source)) {
    if (f.wire !== WIRE.bytes) continue;
    if (++repeated > limits.maxRepeated) throw overLimit(source, `a node has more than ${limits.maxRepeated} inputs, outputs and attributes`, limits.maxRepeated);
    if (f.number === NODE.input) inputs.push(text(source, payload(bytes, f), 'a node input name', limits));
    else if (f.number === NODE.output) outputs.push(text(source, payload(bytes, f), 'a node output name', limits));
    else if (f.number === NODE.opType) opType = text(source, payload(bytes, f), 'an op type', limits);
    else if (f.number === NODE.domain) domain = text(source, payload(bytes, f), 'a node domain', limits);
    else if (f.number === NODE.attribute && !hasSubgraph) hasSubgraph = attributeHasGraph(payload(bytes, f), source);
  }
  if (opType === '') throw corrupt(source, 'a node has no op_type');
  return { bytes, inputs, outputs, opType, domain, hasSubgraph };
}

/** A relative path that stays inside the model's folder: no absolute path, drive, `..`, backslash or NUL. */
export function checkExternalLocation(source: ByteSource, location: string, tensor: string): string {
  const bad =
    location === '' ||
    location.startsWith('/') ||
    location.includes('\\') ||
    location.includes('\0') ||
    /^[A-Za-z]:/.test(location) ||
    location.split('/').some((part) => part === '..' || part === '');
  if (bad) {
    throw new UnsafeInputError('E_ONNX_EXTERNAL_PATH', `${source.name}: initializer "${tensor}" keeps its data at "${location}", outside the model's folder; external data must be a relative file name next to the graph`, {
      tensor,
      location,
    });
  }
  return location;
}

function readExternalEntry(bytes: Uint8Array, source: ByteSource, limits: OnnxReadLimits): [string, string] {
  let key = '';
  let value = '';
  for (const f of memFields(bytes, source)) {
    if (f.wire !== WIRE.bytes) continue;
    if (f.number === 1) key = text(source, payload(bytes, f), 'an external data key', limits);
    else if (f.number === 2) value = text(source, payload(bytes, f), 'an external data value', limits);
  }
  return [key, value];
}

function decimal(source: ByteSource, value: string, what: string, tensor: string): number {
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) throw corrupt(source, `initializer "${tensor}" has external data ${what} "${value.slice(0, 40)}", not a byte count`);
  return Number(value);
}

/** An initializer: its header fields read, its payload (raw_data, typed data) only located. */
function readInitializer(window: Window, start: number, length: number, limits: OnnxReadLimits): OnnxInitializerRecord {
  const source = window.source;
  let name = '';
  let dataType = 0;
  const dims: number[] = [];
  let rawData: ByteRange | null = null;
  let typedBytes = 0;
  let external = false;
  const entries: [string, string][] = [];
  let repeated = 0;
  const count = () => {
    if (++repeated > limits.maxRepeated) throw overLimit(source, `an initializer has more than ${limits.maxRepeated} dims or external data entries`, limits.maxRepeated);
  };
  for (const f of fields((i) => window.byte(i), start, start + length, source)) {
    if (f.number === TENSOR.dims) {
      if (f.wire === WIRE.varint) {
        count();
        dims.push(safeNumber(source, f.value, 'a tensor dimension'));
      } else if (f.wire === WIRE.bytes) {
        if (f.length > limits.maxMessageBytes) throw overLimit(source, 'packed tensor dims are too long', limits.maxMessageBytes);
        const packed = window.take(f.start, f.length);
        let p = 0;
        while (p < packed.byteLength) {
          let value = 0n;
          let i = 0;
          for (; ; i++) {
            if (p >= packed.byteLength || i >= 10) throw corrupt(source, 'packed tensor dims end inside a varint');
            const b = packed[p++]!;
            value |= BigInt(b & 0x7f) << BigInt(7 * i);
            if ((b & 0x80) === 0) break;
          }
          count();
          dims.push(safeNumber(source, value, 'a tensor dimension'));
        }
      }
    } else if (f.number === TENSOR.dataType && f.wire === WIRE.varint) dataType = Number(BigInt.asUintN(32, f.value));
    else if (f.number === TENSOR.name && f.wire === WIRE.bytes) {
      if (f.length > limits.maxNameBytes) throw overLimit(source, `an initializer name is ${f.length} bytes long`, limits.maxNameBytes);
      name = text(source, window.take(f.start, f.length), 'an initializer name', limits);
    } else if (f.number === TENSOR.rawData && f.wire === WIRE.bytes) rawData = { offset: f.start, length: f.length };
    else if (TENSOR_TYPED_DATA.has(f.number)) typedBytes += f.wire === WIRE.bytes ? f.length : 8;
    else if (f.number === TENSOR.dataLocation && f.wire === WIRE.varint) external = f.value === 1n;
    else if (f.number === TENSOR.externalData && f.wire === WIRE.bytes) {
      count();
      if (f.length > limits.maxNameBytes * 2) throw overLimit(source, 'an external data entry is too long', limits.maxNameBytes * 2);
      entries.push(readExternalEntry(window.take(f.start, f.length), source, limits));
    } else if (f.number === TENSOR.segment && f.wire === WIRE.bytes) {
      throw new UnsupportedModelError('E_ONNX_SPARSE', `${source.name}: initializer "${name}" is stored in segments; verify reads unsegmented initializers only`);
    }
  }
  const elements = dims.reduce((a, d) => a * d, 1);
  if (!Number.isSafeInteger(elements)) throw corrupt(source, `initializer "${name}" has dims [${dims.join(', ')}], too many elements`);
  let place: ExternalPlace | null = null;
  if (external) {
    const get = (key: string) => entries.filter(([k]) => k === key).map(([, v]) => v);
    const location = get('location');
    if (location.length !== 1) throw corrupt(source, `initializer "${name}" is external but has ${location.length} location entries`);
    const offset = get('offset');
    const len = get('length');
    place = {
      location: checkExternalLocation(source, location[0]!, name),
      offset: offset.length ? decimal(source, offset[0]!, 'offset', name) : 0,
      length: len.length ? decimal(source, len[0]!, 'length', name) : null,
    };
  }
  const elementBytes = DTYPE_BYTES[dataType];
  const dataBytes = place ? (place.length ?? (elementBytes !== undefined ? elements * elementBytes : 0)) : rawData ? rawData.length : typedBytes;
  if (rawData && elementBytes !== undefined && rawData.length !== elements * elementBytes) {
    throw corrupt(source, `initializer "${name}" holds ${rawData.length} bytes of raw_data for dims [${dims.join(', ')}] (needs ${elements * elementBytes})`);
  }
  return { name, dataType, dims, message: { offset: start, length }, rawData, external: place, dataBytes };
}

function readValueInfo(bytes: Uint8Array, source: ByteSource, limits: OnnxReadLimits): OnnxValueInfoRecord {
  let name = '';
  let elemType: number | null = null;
  let rank: number | null = null;
  for (const f of memFields(bytes, source)) {
    if (f.wire !== WIRE.bytes) continue;
    if (f.number === VALUE_INFO.name) name = text(source, payload(bytes, f), 'a value name', limits);
    else if (f.number === VALUE_INFO.type) {
      const type = payload(bytes, f);
      for (const t of memFields(type, source)) {
        if (t.number !== TYPE.tensorType || t.wire !== WIRE.bytes) continue;
        const tensorType = payload(type, t);
        for (const tt of memFields(tensorType, source)) {
          if (tt.number === TENSOR_TYPE.elemType && tt.wire === WIRE.varint) elemType = Number(BigInt.asUintN(32, tt.value));
          else if (tt.number === TENSOR_TYPE.shape && tt.wire === WIRE.bytes) {
            const shape = payload(tensorType, tt);
            rank = 0;
            for (const d of memFields(shape, source)) {
              if (d.number !== SHAPE.dim) continue;
              if (++rank > limits.maxRepeated) throw overLimit(source, 'a value has too many dims', limits.maxRepeated);
            }
          }
        }
      }
    }
  }
  if (name === '') throw corrupt(source, 'a graph input or output has no name');
  return { name, bytes, elemType, rank };
}

/** The index of the ONNX model in `source` (see the module comment). */
export function readOnnxModel(source: ByteSource, limits: Readonly<OnnxReadLimits> = DEFAULT_ONNX_READ_LIMITS): OnnxModelIndex {
  const window = new Window(source);
  let irVersion: number | null = null;
  const opsetImports: Uint8Array[] = [];
  const functions: Uint8Array[] = [];
  let graph: Field | null = null;
  const whole = (f: Field, what: string): Uint8Array => {
    if (f.length > limits.maxMessageBytes) throw overLimit(source, `${what} is ${f.length} bytes`, limits.maxMessageBytes);
    return window.take(f.start, f.length);
  };
  for (const f of fields((i) => window.byte(i), 0, source.size, source)) {
    if (f.number === MODEL.irVersion && f.wire === WIRE.varint) irVersion = safeNumber(source, f.value, 'ir_version');
    else if (f.number === MODEL.opsetImport && f.wire === WIRE.bytes) {
      if (opsetImports.length >= limits.maxRepeated) throw overLimit(source, 'too many opset imports', limits.maxRepeated);
      opsetImports.push(whole(f, 'an opset import'));
    } else if (f.number === MODEL.functions && f.wire === WIRE.bytes) {
      if (functions.length >= limits.maxRepeated) throw overLimit(source, 'too many model functions', limits.maxRepeated);
      functions.push(whole(f, 'a model function'));
    } else if (f.number === MODEL.graph && f.wire === WIRE.bytes) {
      if (graph) throw corrupt(source, 'the model has two graphs');
      graph = f;
    }
  }
  if (!graph) throw corrupt(source, 'no graph (ModelProto field 7)');

  let graphName = '';
  const nodes: OnnxNodeRecord[] = [];
  const initializers: OnnxInitializerRecord[] = [];
  const inputs: OnnxValueInfoRecord[] = [];
  const outputs: OnnxValueInfoRecord[] = [];
  let valueInfos = 0;
  for (const f of fields((i) => window.byte(i), graph.start, graph.start + graph.length, source)) {
    if (f.wire !== WIRE.bytes) continue;
    if (f.number === GRAPH.node) {
      if (nodes.length >= limits.maxNodes) throw overLimit(source, `more than ${limits.maxNodes} nodes`, limits.maxNodes);
      nodes.push(readNode(whole(f, 'a node'), source, limits));
    } else if (f.number === GRAPH.initializer) {
      if (initializers.length >= limits.maxInitializers) throw overLimit(source, `more than ${limits.maxInitializers} initializers`, limits.maxInitializers);
      initializers.push(readInitializer(window, f.start, f.length, limits));
    } else if (f.number === GRAPH.input || f.number === GRAPH.output) {
      if (++valueInfos > limits.maxValueInfos) throw overLimit(source, `more than ${limits.maxValueInfos} graph inputs and outputs`, limits.maxValueInfos);
      (f.number === GRAPH.input ? inputs : outputs).push(readValueInfo(whole(f, 'a graph input or output'), source, limits));
    } else if (f.number === GRAPH.name) graphName = text(source, window.take(f.start, Math.min(f.length, limits.maxNameBytes + 1)), 'the graph name', limits);
    else if (f.number === GRAPH.sparseInitializer) {
      throw new UnsupportedModelError('E_ONNX_SPARSE', `${source.name}: the graph has sparse initializers; verify reads dense initializers only`);
    }
  }
  return { name: source.name, irVersion, opsetImports, functions, graphName, nodes, initializers, inputs, outputs };
}
