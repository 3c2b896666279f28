/**
 * A small ONNX graph-building DSL: nodes with auto-named outputs, lazily produced initializers, deduplicated
 * constants, graph inputs/outputs. `encodeModel` turns it into protobuf segments (see proto.ts).
 */
import { float32ToFloat16Bits as halfBits } from '../../dtype.js';
import { ATTR_TYPE, F, Msg, ONNX_DTYPE, ONNX_DTYPE_SIZE, type OnnxDType, type Segment, stringEntry } from './proto.js';

/** A float attribute (plain integers would otherwise be written as INT). */
export interface FloatAttr { readonly f: number }
export const f = (value: number): FloatAttr => ({ f: value });
export type Attr = number | number[] | string | FloatAttr | { readonly floats: number[] };

/** An initializer whose bytes are produced only when the file is written. */
export interface Initializer {
  readonly name: string;
  readonly dtype: OnnxDType;
  readonly dims: readonly number[];
  readonly byteLength: number;
  chunks(): Iterable<Uint8Array>;
}

export type Dim = number | string;
export interface ValueInfo { readonly name: string; readonly elemType: OnnxDType; readonly dims: readonly Dim[] }

export interface Node {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Readonly<Record<string, Attr>>;
  readonly domain: string;
  readonly name: string;
}

export interface NodeOptions {
  /** Explicit output names (graph outputs), or a count of auto-named outputs. */
  outputs?: string[] | number;
  domain?: string;
}

export function bytesInit(name: string, dtype: OnnxDType, dims: readonly number[], data: Uint8Array): Initializer {
  const expected = dims.reduce((a, b) => a * b, 1) * ONNX_DTYPE_SIZE[dtype]!;
  if (data.byteLength !== expected) throw new Error(`initializer ${name}: ${data.byteLength} bytes for [${dims.join(',')}] (needs ${expected})`);
  return { name, dtype, dims, byteLength: data.byteLength, chunks: () => [data] };
}

export function float32Init(name: string, dims: readonly number[], values: Float32Array): Initializer {
  return bytesInit(name, ONNX_DTYPE.FLOAT, dims, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Initializer[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly opsets = new Map<string, number>();
  private readonly used = new Set<string>();
  private readonly constants = new Map<string, string>();
  private prefix = '';

  constructor(readonly name: string, opset: number) {
    this.opsets.set('', opset);
  }

  private unique(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Run `body` with node names prefixed by `scope` (e.g. the HF module path). */
  scoped<T>(scope: string, body: () => T): T {
    const saved = this.prefix;
    this.prefix = saved ? `${saved}/${scope}` : `/${scope}`;
    try {
      return body();
    } finally {
      this.prefix = saved;
    }
  }

  input(name: string, elemType: OnnxDType, dims: Dim[]): string {
    this.used.add(name);
    this.inputs.push({ name, elemType, dims });
    return name;
  }

  /** Declare `value` as the graph output `name` (an Identity when it already has another name). */
  output(name: string, value: string, elemType: OnnxDType, dims: Dim[]): void {
    if (value !== name) this.node('Identity', [value], {}, { outputs: [name] });
    this.outputs.push({ name, elemType, dims });
  }

  nodeN(op: string, inputs: string[], attrs: Record<string, Attr> = {}, options: NodeOptions = {}): string[] {
    const base = `${this.prefix}/${op}`;
    const nodeName = this.unique(base);
    const outs = options.outputs ?? 1;
    const outputs = typeof outs === 'number' ? Array.from({ length: outs }, (_, i) => (outs === 1 ? `${nodeName}_output` : `${nodeName}_output_${i}`)) : outs;
    for (const o of outputs) if (o) this.used.add(o);
    if (options.domain && !this.opsets.has(options.domain)) this.opsets.set(options.domain, 1);
    this.nodes.push({ op, inputs, outputs, attrs, domain: options.domain ?? '', name: nodeName });
    return outputs;
  }

  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, options: NodeOptions = {}): string {
    return this.nodeN(op, inputs, attrs, options)[0]!;
  }

  init(init: Initializer): string {
    if (this.used.has(init.name)) throw new Error(`duplicate value name ${init.name}`);
    this.used.add(init.name);
    this.initializers.push(init);
    return init.name;
  }

  private constant(key: string, make: (name: string) => Initializer): string {
    const known = this.constants.get(key);
    if (known) return known;
    let candidate = `const_${this.constants.size}`;
    for (let i = 1; this.used.has(candidate); i++) candidate = `const_${this.constants.size}_${i}`;
    const name = this.init(make(candidate));
    this.constants.set(key, name);
    return name;
  }

  i64(values: number[], dims: number[] = [values.length]): string {
    return this.constant(`i64:${dims.join(',')}:${values.join(',')}`, (name) => {
      const data = new BigInt64Array(values.map((v) => BigInt(v)));
      return bytesInit(name, ONNX_DTYPE.INT64, dims, new Uint8Array(data.buffer));
    });
  }

  /** A float scalar constant of the given element type (float32 or float16 bits). */
  scalar(value: number, elemType: OnnxDType = ONNX_DTYPE.FLOAT, dims: number[] = []): string {
    return this.constant(`f${elemType}:${dims.join(',')}:${value}`, (name) => {
      if (elemType === ONNX_DTYPE.FLOAT) return float32Init(name, dims, new Float32Array([value]));
      if (elemType === ONNX_DTYPE.FLOAT16) return bytesInit(name, elemType, dims, new Uint8Array(new Uint16Array([halfBits(value)]).buffer));
      throw new Error(`scalar of type ${elemType}`);
    });
  }
}

function attrMsg(name: string, value: Attr): Msg {
  const m = new Msg().string(F.attr.name, name);
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer; wrap floats with f()`);
    return m.int(F.attr.i, value).int(F.attr.type, ATTR_TYPE.INT);
  }
  if (typeof value === 'string') return m.string(F.attr.s, value).int(F.attr.type, ATTR_TYPE.STRING);
  if (Array.isArray(value)) {
    for (const v of value) m.int(F.attr.ints, v);
    return m.int(F.attr.type, ATTR_TYPE.INTS);
  }
  if ('floats' in value) {
    for (const v of value.floats) m.float(F.attr.floats, v);
    return m.int(F.attr.type, ATTR_TYPE.FLOATS);
  }
  return m.float(F.attr.f, value.f).int(F.attr.type, ATTR_TYPE.FLOAT);
}

function nodeMsg(node: Node): Msg {
  const m = new Msg();
  for (const i of node.inputs) m.string(F.node.input, i);
  for (const o of node.outputs) m.string(F.node.output, o);
  m.string(F.node.name, node.name).string(F.node.opType, node.op);
  for (const [k, v] of Object.entries(node.attrs)) m.message(F.node.attribute, attrMsg(k, v));
  if (node.domain) m.string(F.node.domain, node.domain);
  return m;
}

function valueInfoMsg(v: ValueInfo): Msg {
  const shape = new Msg();
  for (const d of v.dims) shape.message(F.shape.dim, typeof d === 'number' ? new Msg().int(F.dim.value, d) : new Msg().string(F.dim.param, d));
  const tensorType = new Msg().int(F.tensorType.elemType, v.elemType).message(F.tensorType.shape, shape);
  return new Msg().string(F.valueInfo.name, v.name).message(F.valueInfo.type, new Msg().message(F.type.tensorType, tensorType));
}

/** Where an initializer's bytes go when external data is used. */
export interface ExternalPlacement { readonly location: string; readonly offset: number; readonly length: number }

function tensorMsg(init: Initializer, external: ExternalPlacement | undefined): Msg {
  const m = new Msg();
  for (const d of init.dims) m.int(F.tensor.dims, d);
  m.int(F.tensor.dataType, init.dtype).string(F.tensor.name, init.name);
  if (external) {
    m.message(F.tensor.externalData, stringEntry('location', external.location));
    m.message(F.tensor.externalData, stringEntry('offset', String(external.offset)));
    m.message(F.tensor.externalData, stringEntry('length', String(external.length)));
    m.int(F.tensor.dataLocation, 1);
  } else {
    m.blob(F.tensor.rawData, { length: init.byteLength, chunks: () => init.chunks() });
  }
  return m;
}

export interface ModelMeta {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
  metadata?: Record<string, string>;
}

/** The serialized ModelProto as segments; initializers named in `external` are referenced, not embedded. */
export function encodeModel(g: GraphBuilder, meta: ModelMeta, external: ReadonlyMap<string, ExternalPlacement> = new Map()): Segment[] {
  const graph = new Msg();
  for (const n of g.nodes) graph.message(F.graph.node, nodeMsg(n));
  graph.string(F.graph.name, g.name);
  for (const init of g.initializers) graph.message(F.graph.initializer, tensorMsg(init, external.get(init.name)));
  for (const i of g.inputs) graph.message(F.graph.input, valueInfoMsg(i));
  for (const o of g.outputs) graph.message(F.graph.output, valueInfoMsg(o));

  const model = new Msg().int(F.model.irVersion, meta.irVersion).string(F.model.producerName, meta.producerName).string(F.model.producerVersion, meta.producerVersion);
  if (meta.docString) model.string(F.model.docString, meta.docString);
  model.message(F.model.graph, graph);
  for (const [domain, version] of g.opsets) model.message(F.model.opsetImport, new Msg().string(F.opset.domain, domain).int(F.opset.version, version));
  for (const [k, v] of Object.entries(meta.metadata ?? {})) model.message(F.model.metadataProps, stringEntry(k, v));
  return model.finish();
}
