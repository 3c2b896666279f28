/**
 * The `metadata_props` of an ONNX file (ModelProto field 14: StringStringEntryProto {key = 1, value = 2}), read by
 * walking the top-level fields and skipping the rest (the graph, field 7, is most of the file and is never read).
 */
import type { ByteSource } from '../byte-source.js';
import { openInputFile } from '../node-files.js';

const METADATA_PROPS = 14;
const MAX_ENTRY_BYTES = 1 << 20;

function varint(source: ByteSource, at: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (at >= source.size) throw new Error('truncated varint');
    const byte = source.read(at++, 1)[0]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return [value, at];
    scale *= 128;
  }
  throw new Error('varint longer than 10 bytes');
}

function entry(bytes: Uint8Array): [string, string] | null {
  const source = { name: 'entry', size: bytes.byteLength, read: (o: number, n: number) => bytes.subarray(o, o + n), close() {} };
  let at = 0;
  let key: string | null = null;
  let value = '';
  const text = new TextDecoder('utf-8', { fatal: false });
  while (at < bytes.byteLength) {
    const [tag, afterTag] = varint(source, at);
    if ((tag & 7) !== 2) return null;
    const [length, start] = varint(source, afterTag);
    const s = text.decode(bytes.subarray(start, start + length));
    if (tag >> 3 === 1) key = s;
    else if (tag >> 3 === 2) value = s;
    at = start + length;
  }
  return key === null ? null : [key, value];
}

/** key → value of the file's metadata_props; a malformed file yields what was read before the damage. */
export function readOnnxMetadata(path: string): Map<string, string> {
  const out = new Map<string, string>();
  const source = openInputFile(path, { what: 'ONNX graph' });
  try {
    let at = 0;
    while (at < source.size) {
      const [tag, afterTag] = varint(source, at);
      const wire = tag & 7;
      if (wire === 0) at = varint(source, afterTag)[1];
      else if (wire === 1) at = afterTag + 8;
      else if (wire === 5) at = afterTag + 4;
      else if (wire === 2) {
        const [length, start] = varint(source, afterTag);
        if (tag >> 3 === METADATA_PROPS && length <= MAX_ENTRY_BYTES && start + length <= source.size) {
          const kv = entry(source.read(start, length).slice());
          if (kv) out.set(kv[0], kv[1]);
        }
        at = start + length;
      } else break;
    }
  } catch {
    // a truncated or foreign file: onnxruntime reports it when it loads the graph
  } finally {
    source.close();
  }
  return out;
}
