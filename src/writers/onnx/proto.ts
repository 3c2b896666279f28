/**
 * A minimal protobuf encoder for the ONNX messages we write (onnx.proto field numbers).
 *
 * Why not the `onnx-proto` package: its protobufjs `encode().finish()` builds the whole serialized model in one buffer
 * while the message objects still hold every weight, so a HuBERT-large graph would sit in memory twice (see
 * dependencies.md). Here a message encodes to a list of segments: small byte arrays for the structure, and *deferred
 * blobs* for initializer `raw_data`, whose length is known up front (so enclosing length prefixes can be computed)
 * but whose bytes are produced only while the file is being written, one tensor at a time.
 *
 * Repeated scalars are written unpacked (valid for proto2 `onnx.proto`; every parser accepts it).
 */

/** Bytes produced on demand, in pieces, totalling exactly `length`. */
export interface Blob {
  readonly length: number;
  chunks(): Iterable<Uint8Array>;
}

export type Segment = Uint8Array | Blob;

const encoder = new TextEncoder();

/** A message under construction. */
export class Msg {
  readonly segments: Segment[] = [];
  private pending: number[] = [];
  length = 0;

  private flush(): void {
    if (this.pending.length === 0) return;
    this.segments.push(Uint8Array.from(this.pending));
    this.pending = [];
  }
  private byte(b: number): void {
    this.pending.push(b);
    this.length += 1;
  }
  private varint(value: number | bigint): void {
    let v = typeof value === 'bigint' ? BigInt.asUintN(64, value) : value < 0 ? BigInt.asUintN(64, BigInt(value)) : value;
    if (typeof v === 'bigint') {
      while (v >= 0x80n) {
        this.byte(Number(v & 0x7fn) | 0x80);
        v >>= 7n;
      }
      this.byte(Number(v));
      return;
    }
    if (!Number.isSafeInteger(v)) throw new Error(`varint: ${v} is not a safe integer`);
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(v);
  }
  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }
  private raw(bytes: Uint8Array): void {
    this.flush();
    this.segments.push(bytes);
    this.length += bytes.byteLength;
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }
  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    for (const x of b) this.byte(x);
    return this;
  }
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.varint(value.byteLength);
    this.raw(value);
    return this;
  }
  string(field: number, value: string): this {
    return this.bytes(field, encoder.encode(value));
  }
  /** A length-delimited field whose bytes are streamed later. */
  blob(field: number, value: Blob): this {
    this.tag(field, 2);
    this.varint(value.length);
    this.flush();
    this.segments.push(value);
    this.length += value.length;
    return this;
  }
  message(field: number, child: Msg): this {
    this.tag(field, 2);
    this.varint(child.length);
    this.flush();
    this.segments.push(...child.finish());
    this.length += child.length;
    return this;
  }
  finish(): Segment[] {
    this.flush();
    return this.segments;
  }
}

/** Field numbers from onnx.proto (only those we use). */
export const F = {
  model: { irVersion: 1, producerName: 2, producerVersion: 3, docString: 6, graph: 7, opsetImport: 8, metadataProps: 14 },
  opset: { domain: 1, version: 2 },
  graph: { node: 1, name: 2, initializer: 5, docString: 10, input: 11, output: 12, valueInfo: 13 },
  node: { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 },
  attr: { name: 1, f: 2, i: 3, s: 4, t: 5, floats: 7, ints: 8, type: 20 },
  tensor: { dims: 1, dataType: 2, name: 8, rawData: 9, externalData: 13, dataLocation: 14 },
  entry: { key: 1, value: 2 },
  valueInfo: { name: 1, type: 2 },
  type: { tensorType: 1 },
  tensorType: { elemType: 1, shape: 2 },
  shape: { dim: 1 },
  dim: { value: 1, param: 2 },
} as const;

export const ATTR_TYPE = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

/** TensorProto.DataType values. */
export const ONNX_DTYPE = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } as const;
export type OnnxDType = (typeof ONNX_DTYPE)[keyof typeof ONNX_DTYPE];

export const ONNX_DTYPE_SIZE: Readonly<Record<number, number>> = { 1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8 };

export function stringEntry(key: string, value: string): Msg {
  return new Msg().string(F.entry.key, key).string(F.entry.value, value);
}
