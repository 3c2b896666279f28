import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { BufferSource } from '../../src/byte-source.js';
import { CorruptInputError, FileSystemError, UnsupportedModelError } from '../../src/errors.js';
import { MAX_SAFETENSORS_HEADER_BYTES } from '../../src/readers/safetensors.js';
import { readSafetensors } from '../../src/readers/disk-safetensors.js';
import { chunkHex, DATA_DIR, expectError, hex, rawFile, referenceListing } from './helpers.js';

describe('reading files written by safetensors.torch.save_file', () => {
  for (const name of ['reference_all_dtypes', 'reference_no_metadata', 'casts']) {
    test(`${name}: every tensor bit-exact`, () => {
      const listing = referenceListing(name);
      const file = readSafetensors(join(DATA_DIR, `${name}.safetensors`));
      try {
        expect(file.metadata).toEqual(listing.metadata);
        expect([...file.tensors.keys()].sort()).toEqual(listing.tensors.map((t) => t.name).sort());
        for (const t of listing.tensors) {
          const got = file.tensors.get(t.name)!;
          expect([t.name, got.dtype, got.shape]).toEqual([t.name, t.dtype, t.shape]);
          expect(hex(got.bytes())).toBe(t.hex);
          // tiny chunks through the reused buffer give the same bytes
          expect(chunkHex(got, 3)).toBe(t.hex);
        }
        expect(file.dataStart).toBe(8 + file.headerBytes);
        expect(file.headerBytes % 8).toBe(0);
      } finally {
        file.close();
      }
    });
  }

  test('tensors come in data-offset order and scalars / zero-size tensors have the right shapes', () => {
    const file = readSafetensors(join(DATA_DIR, 'reference_all_dtypes.safetensors'));
    const offsets = [...file.tensors.values()].map((t) => t.fileOffset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(file.tensors.get('scalar.f32')!.shape).toEqual([]);
    expect(new DataView(file.tensors.get('scalar.f32')!.bytes().buffer).getFloat32(0, true)).toBe(3.25);
    expect(file.tensors.get('empty.f32')!.byteLength).toBe(0);
    expect([...file.tensors.get('empty.f32')!.chunks()]).toEqual([]);
    file.close();
  });
});

describe('unaligned data and sources', () => {
  test('a tensor at an odd file offset still yields aligned, correct bytes', () => {
    // header padded so the F32 tensor starts at an odd absolute offset; u8 first at offset 0 of the data
    const header = '{"u":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"f":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}}';
    const data = new Uint8Array([7, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]);
    const file = readSafetensors(new BufferSource(rawFile(header, data), 'mem'));
    const bytes = file.tensors.get('f')!.bytes();
    expect(bytes.byteOffset % 4).toBe(0);
    expect([...new Float32Array(bytes.buffer, bytes.byteOffset, 2)]).toEqual([1, 2]);
    expect(file.tensors.get('f')!.fileOffset % 2).toBe(1);
  });

  test('a caller-provided source stays open after close(); a path is closed', () => {
    const source = new BufferSource(rawFile('{}'), 'mem');
    let closed = 0;
    const wrapped = { name: source.name, size: source.size, read: source.read.bind(source), close: () => void closed++ };
    readSafetensors(wrapped).close();
    expect(closed).toBe(0);
  });

  test('a missing path is a FileSystemError', () => {
    const e = expectError(() => readSafetensors(join(DATA_DIR, 'nope.safetensors')), FileSystemError, 'E_SAFETENSORS_OPEN');
    expect(e.message).toContain('nope.safetensors');
    expect(e.message).toContain('ENOENT');
  });
});

const F32x2 = '"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';

describe('validation errors', () => {
  const corrupt = (bytes: Uint8Array, code: string) => expectError(() => readSafetensors(new BufferSource(bytes, 'bad.safetensors')), CorruptInputError, code);

  test('shorter than 8 bytes', () => {
    expect(corrupt(new Uint8Array(7), 'E_SAFETENSORS_TOO_SHORT').message).toBe(
      'bad.safetensors: only 7 bytes, a safetensors file starts with an 8-byte header length (the file is truncated or not a safetensors file; re-export or re-download it)',
    );
  });

  test('header length above 100 MB is refused before allocating', () => {
    const e = corrupt(rawFile('{}', 0, BigInt(MAX_SAFETENSORS_HEADER_BYTES) + 1n), 'E_SAFETENSORS_HEADER_TOO_LARGE');
    expect(e.message).toContain('the header length field (the first 8 bytes) asks for more than the 100000000-byte limit');
    expect(e.message).not.toContain('100000001');
    corrupt(rawFile('{}', 0, 2n ** 64n - 1n), 'E_SAFETENSORS_HEADER_TOO_LARGE');
  });

  test('header length beyond the file', () => {
    expect(corrupt(rawFile('{}', 0, 3n), 'E_SAFETENSORS_HEADER_TRUNCATED').message).toContain('the header length field (the first 8 bytes) asks for more than the 2 bytes after it');
  });

  test('header not UTF-8', () => {
    const bytes = rawFile('{"\u00e9":1}');
    bytes[10] = 0xff; // break the 2-byte sequence
    expect(corrupt(bytes, 'E_SAFETENSORS_HEADER_UTF8').message).toContain('not valid UTF-8');
  });

  test('not JSON, not an object, leading BOM', () => {
    expect(corrupt(rawFile('{"a":'), 'E_SAFETENSORS_HEADER_JSON').message).toContain('the header is not valid JSON');
    expect(corrupt(rawFile('[1,2]'), 'E_SAFETENSORS_HEADER_JSON').message).toContain("does not start with '{'");
    expect(corrupt(rawFile(' {}'), 'E_SAFETENSORS_HEADER_JSON').message).toContain("does not start with '{'");
    expect(corrupt(rawFile('\ufeff{}'), 'E_SAFETENSORS_HEADER_JSON').message).toContain("does not start with '{'");
    expect(corrupt(rawFile('{} x'), 'E_SAFETENSORS_HEADER_JSON').message).toContain('not valid JSON');
  });

  test('duplicate keys, including escaped spellings and nested ones', () => {
    const e = corrupt(rawFile(`{${F32x2},${F32x2}}`, 8), 'E_SAFETENSORS_DUPLICATE_KEY');
    expect(e.message).toBe('bad.safetensors: key "t" appears twice in the header; readers disagree on which one counts, so the file is refused');
    corrupt(rawFile(`{${F32x2},"\\u0074":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8), 'E_SAFETENSORS_DUPLICATE_KEY');
    const nested = corrupt(rawFile('{"t":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 8), 'E_SAFETENSORS_DUPLICATE_KEY');
    expect(nested.message).toContain('key "dtype" appears twice in the header entry "t"');
    corrupt(rawFile(`{"__metadata__":{"format":"pt","format":"np"},${F32x2}}`, 8), 'E_SAFETENSORS_DUPLICATE_KEY');
    // equal strings as values (not keys) are fine
    expect(readSafetensors(rawFile('{"__metadata__":{"a":"x","b":"x"}}')).metadata).toEqual({ a: 'x', b: 'x' });
  });

  test('__metadata__ must be string → string', () => {
    expect(corrupt(rawFile('{"__metadata__":{"format":1}}'), 'E_SAFETENSORS_METADATA').message).toContain('"__metadata__"."format" is 1, but metadata values must be strings');
    corrupt(rawFile('{"__metadata__":["pt"]}'), 'E_SAFETENSORS_METADATA');
    corrupt(rawFile('{"__metadata__":"pt"}'), 'E_SAFETENSORS_METADATA');
  });

  test('entries must be objects with dtype, shape, data_offsets', () => {
    expect(corrupt(rawFile('{"t":[1]}'), 'E_SAFETENSORS_ENTRY').message).toContain('tensor "t": the header entry must be an object');
    expect(corrupt(rawFile('{"t":{"dtype":"F32","shape":[0]}}'), 'E_SAFETENSORS_ENTRY').message).toContain('tensor "t": the header entry has no "data_offsets"');
  });

  test('dtypes: unknown names are corrupt, valid-but-unsupported ones are unsupported', () => {
    expect(corrupt(rawFile('{"t":{"dtype":"F33","shape":[0],"data_offsets":[0,0]}}'), 'E_SAFETENSORS_DTYPE').message).toBe('bad.safetensors: tensor "t": "F33" is not a safetensors dtype');
    corrupt(rawFile('{"t":{"dtype":"toString","shape":[0],"data_offsets":[0,0]}}'), 'E_SAFETENSORS_DTYPE');
    corrupt(rawFile('{"t":{"dtype":7,"shape":[0],"data_offsets":[0,0]}}'), 'E_SAFETENSORS_DTYPE');
    for (const dtype of ['U16', 'U32', 'U64', 'F8_E4M3', 'C64']) {
      const e = expectError(() => readSafetensors(rawFile(`{"t":{"dtype":"${dtype}","shape":[0],"data_offsets":[0,0]}}`)), UnsupportedModelError, 'E_SAFETENSORS_DTYPE');
      expect(e.message).toContain(`has dtype ${dtype}, which safetensors allows but hubert-convert does not handle`);
    }
  });

  test('shapes must be lists of non-negative safe integers', () => {
    for (const shape of ['[-1]', '[1.5]', '"2"', '[2,null]', '[9007199254740992]', '{}']) {
      const e = corrupt(rawFile(`{"t":{"dtype":"F32","shape":${shape},"data_offsets":[0,8]}}`, 8), 'E_SAFETENSORS_SHAPE');
      expect(e.message).toContain('is not a list of non-negative integers');
    }
  });

  test('data_offsets must be [begin, end] integers with begin <= end', () => {
    for (const offsets of ['[0]', '[0,8,8]', '[0,"8"]', '[-1,7]', '[0.5,8]', '{"0":0,"1":8}']) {
      corrupt(rawFile(`{"t":{"dtype":"F32","shape":[2],"data_offsets":${offsets}}}`, 8), 'E_SAFETENSORS_OFFSETS');
    }
    expect(corrupt(rawFile('{"t":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}', 8), 'E_SAFETENSORS_OFFSETS').message).toContain('data_offsets end 0 is before begin 8');
  });

  test('byte size must equal numel × itemsize', () => {
    const e = corrupt(rawFile('{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', 8), 'E_SAFETENSORS_SIZE_MISMATCH');
    expect(e.message).toBe('bad.safetensors: tensor "t": F32[3] needs 12 bytes but data_offsets [0, 8] span 8');
    const huge = corrupt(rawFile('{"t":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}', 8), 'E_SAFETENSORS_SIZE_MISMATCH');
    expect(huge.message).toContain('needs more than 2^53 bytes');
  });

  test('offsets outside the data area', () => {
    expect(corrupt(rawFile(`{${F32x2}}`, 4), 'E_SAFETENSORS_OUT_OF_BOUNDS').message).toContain('data_offsets [0, 8] reach past the 4-byte data area');
  });

  test('overlapping tensors', () => {
    const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    expect(corrupt(rawFile(header, 8), 'E_SAFETENSORS_OVERLAP').message).toBe('bad.safetensors: tensors "a" [0, 8] and "b" [4, 8] overlap');
    // a zero-size tensor inside another one overlaps too
    corrupt(rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}', 8), 'E_SAFETENSORS_OVERLAP');
  });

  test('holes between or before tensors', () => {
    const gap = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
    expect(corrupt(rawFile(gap, 12), 'E_SAFETENSORS_HOLE').message).toContain('4 unused bytes after tensor "a"');
    expect(corrupt(rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8), 'E_SAFETENSORS_HOLE').message).toContain('at the start of the data area');
  });

  test('trailing bytes after the last tensor', () => {
    expect(corrupt(rawFile(`{${F32x2}}`, 9), 'E_SAFETENSORS_TRAILING_BYTES').message).toContain('1 bytes after the last tensor belong to no tensor');
    corrupt(rawFile('{}', 1), 'E_SAFETENSORS_TRAILING_BYTES');
  });

  test('valid edge cases: empty file body, scalars, several zero-size tensors at one offset, __proto__ names', () => {
    expect(readSafetensors(rawFile('{}')).tensors.size).toBe(0);
    const header =
      '{"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"z1":{"dtype":"F32","shape":[0,3],"data_offsets":[8,8]},"z2":{"dtype":"BOOL","shape":[0],"data_offsets":[8,8]},"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[8,9]}}';
    const file = readSafetensors(rawFile(header, 9));
    expect([...file.tensors.keys()]).toEqual(['s', 'z1', 'z2', '__proto__']);
    expect(file.metadata).toBeNull();
    const meta = readSafetensors(rawFile('{"__metadata__":{"__proto__":"x"}}')).metadata!;
    expect(Object.getPrototypeOf(meta)).toBe(Object.prototype);
    expect(Object.keys(meta)).toEqual(['__proto__']);
  });
});
