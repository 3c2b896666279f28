/** A tiny protobuf wire-format reader for tests: enough to walk our own ONNX files independently of the encoder. */
export type Field = { field: number; wire: number; value: bigint | Uint8Array | number };

export function decodeFields(bytes: Uint8Array): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = bytes[at++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  };
  while (at < bytes.byteLength) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ field, wire, value: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      out.push({ field, wire, value: bytes.subarray(at, at + len) });
      at += len;
    } else if (wire === 5) {
      out.push({ field, wire, value: new DataView(bytes.buffer, bytes.byteOffset + at, 4).getFloat32(0, true) });
      at += 4;
    } else throw new Error(`wire type ${wire} at ${at}`);
  }
  return out;
}

export const sub = (fields: Field[], n: number): Uint8Array[] => fields.filter((f) => f.field === n).map((f) => f.value as Uint8Array);
export const str = (fields: Field[], n: number): string[] => sub(fields, n).map((b) => new TextDecoder().decode(b));
export const ints = (fields: Field[], n: number): bigint[] => fields.filter((f) => f.field === n).map((f) => f.value as bigint);

/** ModelProto → the graph's initializers: name, dims, and external_data entries (TensorProto fields 8, 1, 13). */
export function initializers(model: Uint8Array): { name: string; dims: number[]; dataType: number; raw: number; external: Record<string, string> }[] {
  const graph = decodeFields(sub(decodeFields(model), 7)[0]!);
  return sub(graph, 5).map((t) => {
    const f = decodeFields(t);
    const external: Record<string, string> = {};
    for (const e of sub(f, 13)) {
      const kv = decodeFields(e);
      external[str(kv, 1)[0]!] = str(kv, 2)[0]!;
    }
    return { name: str(f, 8)[0]!, dims: ints(f, 1).map(Number), dataType: Number(ints(f, 2)[0]), raw: sub(f, 9)[0]?.byteLength ?? -1, external };
  });
}
