import { describe, expect, it } from 'vitest';
import { Msg, type Segment } from '../../src/writers/onnx/proto.js';
import { decodeFields } from './proto-decode.js';

function flatten(segments: Segment[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const s of segments) {
    if (s instanceof Uint8Array) parts.push(s);
    else for (const c of s.chunks()) parts.push(c.slice());
  }
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

describe('protobuf encoder', () => {
  it('encodes varints, negative int64, floats and strings on the wire as protobuf does', () => {
    const m = new Msg().int(1, 150).int(2, -1).int(3, 2 ** 40).float(4, 1.5).string(5, 'hé');
    expect([...flatten(m.finish())]).toEqual([
      0x08, 0x96, 0x01,
      0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
      0x18, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20,
      0x25, 0x00, 0x00, 0xc0, 0x3f,
      0x2a, 0x03, 0x68, 0xc3, 0xa9,
    ]);
    expect(m.length).toBe(31);
  });

  it('length-prefixes nested messages and deferred blobs without producing the blob bytes', () => {
    let produced = 0;
    const blob = { length: 300, chunks: function* () { produced++; yield new Uint8Array(100).fill(7); yield new Uint8Array(200).fill(9); } };
    const inner = new Msg().int(1, 5).blob(9, blob);
    const outer = new Msg().string(1, 'g').message(7, inner);
    const segments = outer.finish();
    expect(produced).toBe(0);
    expect(outer.length).toBe(3 + 3 + 2 + 3 + 300);
    const bytes = flatten(segments);
    expect(bytes.byteLength).toBe(outer.length);
    const top = decodeFields(bytes);
    expect(top.map((f) => f.field)).toEqual([1, 7]);
    const nested = decodeFields(top[1]!.value as Uint8Array);
    expect(nested[0]).toEqual({ field: 1, wire: 0, value: 5n });
    const raw = nested[1]!.value as Uint8Array;
    expect(raw.byteLength).toBe(300);
    expect(raw[99]).toBe(7);
    expect(raw[100]).toBe(9);
  });
});
