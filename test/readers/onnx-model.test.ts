/**
 * The bounded ONNX reader (src/readers/onnx-model.ts): what it indexes from graphs our builder writes (inline and
 * external data) equals what the builder put there; fields in another order read the same; hostile files (truncated,
 * lengths past the end, external data outside the folder, absurd counts, sparse initializers) end in typed errors.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/byte-source.js';
import { HubertConvertError } from '../../src/errors.js';
import { type OnnxModelIndex, readOnnxModel } from '../../src/readers/onnx-model.js';
import { buildHubertGraph, buildOnnx } from '../../src/writers/onnx/index.js';
import { F, Msg, stringEntry } from '../../src/writers/onnx/proto.js';
import { FIXTURES, loadHfModel } from '../onnx/helpers.js';

const out = mkdtempSync(join(tmpdir(), 'onnx-reader-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function bytesOf(m: Msg): Uint8Array {
  const segments = m.finish();
  const all = new Uint8Array(m.length);
  let at = 0;
  for (const s of segments) {
    all.set(s as Uint8Array, at);
    at += (s as Uint8Array).byteLength;
  }
  return all;
}

/** An initializer's bytes (each chunk copied as it comes: a writer may reuse its buffer between chunks). */
function initBytes(init: { chunks(): Iterable<Uint8Array> }): Buffer {
  const parts: Uint8Array[] = [];
  for (const c of init.chunks()) parts.push(Uint8Array.from(c));
  return Buffer.concat(parts);
}

function read(bytes: Uint8Array, limits?: Parameters<typeof readOnnxModel>[1]): OnnxModelIndex {
  return readOnnxModel(new BufferSource(bytes, 'test.onnx'), limits);
}

function thrown(run: () => unknown): HubertConvertError {
  try {
    run();
  } catch (error) {
    if (error instanceof HubertConvertError) return error;
    throw error;
  }
  throw new Error('no error');
}

const valueInfo = (name: string, elemType: number, dims: (number | string)[]) => {
  const shape = new Msg();
  for (const d of dims) shape.message(F.shape.dim, typeof d === 'number' ? new Msg().int(F.dim.value, d) : new Msg().string(F.dim.param, d));
  return new Msg().string(F.valueInfo.name, name).message(F.valueInfo.type, new Msg().message(F.type.tensorType, new Msg().int(F.tensorType.elemType, elemType).message(F.tensorType.shape, shape)));
};

/** A two-node model, y = (x + w) * 2, written with its fields in reverse order and an external `w` at `location`. */
function smallModel(options: { location?: string; extraGraphField?: (g: Msg) => void } = {}): Uint8Array {
  const graph = new Msg();
  graph.message(F.graph.output, valueInfo('y', 1, ['n']));
  graph.message(F.graph.input, valueInfo('x', 1, ['n']));
  const w = new Msg().string(F.tensor.name, 'w').int(F.tensor.dataType, 1).int(F.tensor.dims, 2);
  if (options.location !== undefined) {
    w.int(F.tensor.dataLocation, 1).message(F.tensor.externalData, stringEntry('location', options.location)).message(F.tensor.externalData, stringEntry('length', '8'));
  } else w.bytes(F.tensor.rawData, new Uint8Array(new Float32Array([1, 2]).buffer));
  graph.message(F.graph.initializer, w);
  graph.message(F.graph.initializer, new Msg().bytes(F.tensor.rawData, new Uint8Array(new Float32Array([2]).buffer)).int(F.tensor.dataType, 1).string(F.tensor.name, 'two'));
  graph.message(F.graph.node, new Msg().string(F.node.opType, 'Mul').string(F.node.output, 'y').string(F.node.input, 's').string(F.node.input, 'two'));
  graph.message(F.graph.node, new Msg().string(F.node.opType, 'Add').string(F.node.output, 's').string(F.node.input, 'x').string(F.node.input, 'w'));
  graph.string(F.graph.name, 'reversed');
  options.extraGraphField?.(graph);
  const model = new Msg().message(F.model.opsetImport, new Msg().int(F.opset.version, 17)).message(F.model.graph, graph).int(F.model.irVersion, 8);
  return bytesOf(model);
}

describe('graphs our builder writes', () => {
  const model = () => loadHfModel(join(FIXTURES, 'hf', 'fairseq_large_dictconfig'));
  let inlinePath: string;
  let externalPath: string;
  beforeAll(async () => {
    await buildOnnx(model(), join(out, 'inline'), { variants: ['fp32', 'fp16'] });
    await buildOnnx(model(), join(out, 'external'), { variants: ['fp32'], externalData: true });
    inlinePath = join(out, 'inline', 'onnx', 'model.onnx');
    externalPath = join(out, 'external', 'onnx', 'model.onnx');
  });

  it.each([
    ['fp32', 'model.onnx'],
    ['fp16', 'model_fp16.onnx'],
  ] as const)('inline %s: nodes, initializers (bytes at their raw_data range), inputs and outputs as built', (variant, file) => {
    const built = buildHubertGraph(model(), { variant, hiddenStates: false, outputs: null });
    const bytes = readFileSync(join(out, 'inline', 'onnx', file));
    const index = read(bytes);
    expect(index.irVersion).toBe(8);
    expect(index.graphName).toBe(built.name);
    expect(index.nodes.map((n) => [n.opType, n.domain, n.inputs, n.outputs])).toEqual(built.nodes.map((n) => [n.op, n.domain, n.inputs, n.outputs]));
    expect(index.nodes.some((n) => n.hasSubgraph)).toBe(false);
    expect(index.initializers.map((i) => [i.name, i.dataType, i.dims, i.external])).toEqual(built.initializers.map((i) => [i.name, i.dtype, i.dims, null]));
    for (const [k, init] of built.initializers.entries()) {
      const expected = initBytes(init);
      const range = index.initializers[k]!.rawData!;
      expect(Buffer.from(bytes.subarray(range.offset, range.offset + range.length)).equals(expected), init.name).toBe(true);
      expect(index.initializers[k]!.dataBytes).toBe(init.byteLength);
    }
    expect(index.inputs.map((i) => [i.name, i.elemType, i.rank])).toEqual(built.inputs.map((i) => [i.name, i.elemType, i.dims.length]));
    expect(index.outputs.map((o) => [o.name, o.elemType, o.rank])).toEqual(built.outputs.map((o) => [o.name, o.elemType, o.dims.length]));
    expect(index.opsetImports.length).toBe(built.opsets.size);
  });

  it('external data: each initializer of ≥ 1024 bytes is located in model.onnx_data, and those bytes are the tensor', () => {
    const built = buildHubertGraph(model(), { variant: 'fp32', hiddenStates: false, outputs: null });
    const index = read(readFileSync(externalPath));
    const data = readFileSync(join(out, 'external', 'onnx', 'model.onnx_data'));
    let external = 0;
    for (const [k, init] of built.initializers.entries()) {
      const record = index.initializers[k]!;
      expect(record.name).toBe(init.name);
      if (init.byteLength < 1024) {
        expect(record.external).toBeNull();
        continue;
      }
      external++;
      expect(record.rawData).toBeNull();
      expect(record.external).toMatchObject({ location: 'model.onnx_data', length: init.byteLength });
      const { offset } = record.external!;
      expect(Buffer.from(data.subarray(offset, offset + init.byteLength)).equals(initBytes(init)), init.name).toBe(true);
    }
    expect(external).toBeGreaterThan(10);
    expect(read(readFileSync(inlinePath)).nodes.length).toBe(index.nodes.length);
  });
});

describe('fields in any order', () => {
  it('reads a model whose fields come in reverse order', () => {
    const index = read(smallModel());
    expect(index.irVersion).toBe(8);
    expect(index.graphName).toBe('reversed');
    expect(index.nodes.map((n) => [n.opType, n.inputs, n.outputs])).toEqual([
      ['Mul', ['s', 'two'], ['y']],
      ['Add', ['x', 'w'], ['s']],
    ]);
    expect(index.initializers.map((i) => [i.name, i.dataType, i.dims, i.dataBytes])).toEqual([
      ['w', 1, [2], 8],
      ['two', 1, [], 4],
    ]);
    expect(index.inputs.map((i) => [i.name, i.elemType, i.rank])).toEqual([['x', 1, 1]]);
  });

  it('records an external initializer with a plain relative location', () => {
    const index = read(smallModel({ location: 'weights/w.bin' }));
    expect(index.initializers[0]!.external).toEqual({ location: 'weights/w.bin', offset: 0, length: 8 });
  });
});

describe('hostile ONNX files', () => {
  it.each(['../x', '/etc/passwd', 'a/../../x', 'C:\\x', 'a\\..\\x', ''])('external data location %j is refused as unsafe (E_ONNX_EXTERNAL_PATH)', (location) => {
    const error = thrown(() => read(smallModel({ location })));
    expect([error.kind, error.code]).toEqual(['unsafe', 'E_ONNX_EXTERNAL_PATH']);
    expect(error.exitCode).toBe(3);
  });

  it('every truncation of a valid model reads or fails as corrupt (E_ONNX_TRUNCATED / E_ONNX_PROTO), never otherwise', () => {
    const bytes = smallModel();
    const codes = new Set<string>();
    for (let cut = 0; cut < bytes.byteLength; cut++) {
      try {
        read(bytes.subarray(0, cut));
        codes.add('read');
      } catch (error) {
        expect(error, `cut at ${cut}`).toBeInstanceOf(HubertConvertError);
        expect((error as HubertConvertError).kind).toBe('corrupt');
        codes.add((error as HubertConvertError).code);
      }
    }
    // cuts at a field boundary of the model leave a shorter valid message (read, or "no graph": E_ONNX_PROTO)
    expect([...codes].sort()).toEqual(['E_ONNX_PROTO', 'E_ONNX_TRUNCATED', 'read']);
  });

  it('a length past the end of the file: E_ONNX_TRUNCATED, with the sizes in the message', () => {
    const huge = bytesOf(new Msg().int(F.model.irVersion, 8)); // then a graph field that declares 1 GB
    const bytes = new Uint8Array([...huge, 0x3a, 0x80, 0x80, 0x80, 0x80, 0x04, 1, 2, 3]);
    const error = thrown(() => read(bytes));
    expect(error.code).toBe('E_ONNX_TRUNCATED');
    expect(error.message).toMatch(/declares 1073741824 bytes, past the end of the file \(11 bytes\)/);
  });

  it('a length beyond its enclosing message, an over-long varint, a group wire type: E_ONNX_PROTO', () => {
    const graph = bytesOf(new Msg().string(F.graph.name, 'g'));
    // graph name declares 9 bytes inside a 3-byte graph message followed by more file
    const inner = new Uint8Array([0x3a, graph.byteLength, 0x12, 0x09, 0x67, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(thrown(() => read(inner)).code).toBe('E_ONNX_PROTO');
    expect(thrown(() => read(new Uint8Array([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).message).toMatch(/varint is longer than 10 bytes/);
    expect(thrown(() => read(new Uint8Array([0x0b, 0x0c]))).message).toMatch(/wire type 3/);
    expect(thrown(() => read(bytesOf(new Msg().int(F.model.irVersion, 8)))).message).toMatch(/no graph/);
  });

  it('absurd counts stop at the reader limits: E_ONNX_LIMIT', () => {
    const bytes = smallModel();
    expect(thrown(() => read(bytes, { ...limitsFor(), maxNodes: 1 })).code).toBe('E_ONNX_LIMIT');
    expect(thrown(() => read(bytes, { ...limitsFor(), maxInitializers: 1 })).code).toBe('E_ONNX_LIMIT');
    expect(thrown(() => read(bytes, { ...limitsFor(), maxMessageBytes: 8 })).message).toMatch(/a graph input or output is 16 bytes \(limit 8\)/);
  });

  it('sparse initializers are refused as unsupported (E_ONNX_SPARSE)', () => {
    const error = thrown(() => read(smallModel({ extraGraphField: (g) => g.message(15, new Msg().int(3, 4)) })));
    expect([error.kind, error.code]).toEqual(['unsupported', 'E_ONNX_SPARSE']);
  });

  it('raw_data of the wrong size for its dims is corrupt', () => {
    const graph = new Msg().message(F.graph.initializer, new Msg().int(F.tensor.dims, 3).int(F.tensor.dataType, 1).string(F.tensor.name, 'w').bytes(F.tensor.rawData, new Uint8Array(8)));
    const error = thrown(() => read(bytesOf(new Msg().message(F.model.graph, graph))));
    expect(error.message).toMatch(/holds 8 bytes of raw_data for dims \[3\] \(needs 12\)/);
  });
});

function limitsFor() {
  return { maxNodes: 1000, maxInitializers: 1000, maxValueInfos: 1000, maxMessageBytes: 1 << 20, maxRepeated: 1000, maxNameBytes: 1000 };
}
