/**
 * A small reader for NumPy .npy files (format versions 1–3): C-order little-endian float32/float64/float16/int16/
 * int32/int64 arrays. Used for --audio (1-D or [1, N] samples) and --expected (an activation array).
 */
import { float16BitsToFloat32 } from '../dtype.js';
import { CorruptInputError } from '../errors.js';
import { readInputFile } from './read-input.js';

export interface NpyArray {
  shape: number[];
  /** values as float64 (exact for every supported dtype) */
  data: Float64Array;
  dtype: string;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

function bad(path: string, what: string): CorruptInputError {
  return new CorruptInputError('E_VERIFY_NPY', `${path}: ${what}`, { file: path });
}

export function readNpy(path: string): NpyArray {
  return parseNpy(readInputFile(path), path);
}

export function parseNpy(bytes: Uint8Array, path = '<buffer>'): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad(path, 'not a .npy file (bad magic)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw bad(path, `unsupported .npy format version ${major}`);
  const headerLength = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  if (headerStart + headerLength > bytes.length) throw bad(path, 'truncated header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, headerStart + headerLength));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw bad(path, `unreadable header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw bad(path, 'Fortran-order arrays are not supported; save with np.ascontiguousarray');
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(path, `bad shape (${shapeText})`);
  const numel = shape.reduce((a, b) => a * b, 1);
  const sizes: Record<string, number> = { '<f4': 4, '<f8': 8, '<f2': 2, '<i2': 2, '<i4': 4, '<i8': 8, '|u1': 1, '|i1': 1 };
  const size = sizes[descr];
  if (!size) throw bad(path, `dtype ${descr} is not supported (use little-endian float32/float64/float16 or int16/int32/int64)`);
  const at = headerStart + headerLength;
  if (at + numel * size !== bytes.length) throw bad(path, `holds ${bytes.length - at} data bytes; shape (${shape.join(', ')}) of ${descr} needs ${numel * size}`);
  const data = new Float64Array(numel);
  for (let i = 0; i < numel; i++) {
    const o = at + i * size;
    switch (descr) {
      case '<f4': data[i] = dv.getFloat32(o, true); break;
      case '<f8': data[i] = dv.getFloat64(o, true); break;
      case '<f2': data[i] = float16BitsToFloat32(dv.getUint16(o, true)); break;
      case '<i2': data[i] = dv.getInt16(o, true); break;
      case '<i4': data[i] = dv.getInt32(o, true); break;
      case '<i8': data[i] = Number(dv.getBigInt64(o, true)); break;
      case '|u1': data[i] = dv.getUint8(o); break;
      default: data[i] = dv.getInt8(o);
    }
  }
  return { shape, data, dtype: descr };
}
