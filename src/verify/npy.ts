/**
 * A small reader for NumPy .npy files (format versions 1–3): C-order little-endian float32/float64/float16/int16/
 * int32/int64 arrays. Used for --audio (1-D or [1, N] samples) and --expected (an activation array).
 */
import { float16BitsToFloat32 } from '../dtype.js';
import { CorruptInputError, UnsafeInputError, UnsupportedModelError } from '../errors.js';
import { checkedNumel } from '../tensor.js';
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

/** The header's three fields. */
interface NpyHeader {
  descr: string;
  fortran: boolean;
  shape: number[];
}

/** Element sizes of the dtypes read here (little-endian or byte-order-free). */
const SIZES: Readonly<Record<string, number>> = { '<f4': 4, '<f8': 8, '<f2': 2, '<i2': 2, '<i4': 4, '<i8': 8, '|u1': 1, '|i1': 1 };

/**
 * The header is a Python dict literal; numpy reads it with ast.literal_eval, where a repeated key silently replaces
 * the first. So it is parsed strictly here: exactly the keys descr, fortran_order and shape, each once, with a plain
 * string, True/False and a tuple of decimal integers. A header that says '<f4' first and '|O' later is refused,
 * never read as float32.
 */
function parseHeader(text: string, path: string): NpyHeader {
  const fail = (why: string): never => {
    throw bad(path, `the header is not the dict numpy writes (${why})`);
  };
  let at = 0;
  const space = () => {
    while (at < text.length && ' \t\n\r'.includes(text[at]!)) at++;
  };
  const take = (c: string) => {
    space();
    if (text[at] !== c) fail(`expected "${c}" at character ${at}`);
    at++;
  };
  const string = (): string => {
    space();
    const quote = text[at];
    if (quote !== "'" && quote !== '"') return fail(`expected a string at character ${at}`);
    const end = text.indexOf(quote, at + 1);
    if (end < 0) return fail('an unterminated string');
    const value = text.slice(at + 1, end);
    if (value.includes('\\')) fail('escapes in a string');
    at = end + 1;
    return value;
  };
  const fields: Partial<NpyHeader> = {};
  take('{');
  for (;;) {
    space();
    if (text[at] === '}') break;
    const key = string();
    take(':');
    space();
    if (Object.hasOwn(fields, key === 'fortran_order' ? 'fortran' : key)) fail(`key '${key}' appears twice`);
    if (key === 'descr') {
      if (text[at] === '[') {
        throw new UnsupportedModelError('E_VERIFY_NPY_DTYPE', `${path}: a structured dtype (a list of fields) is not supported; save one float array (np.float32)`, { file: path });
      }
      fields.descr = string();
    } else if (key === 'fortran_order') {
      if (text.startsWith('True', at)) fields.fortran = true;
      else if (text.startsWith('False', at)) fields.fortran = false;
      else fail('fortran_order must be True or False');
      at += fields.fortran ? 4 : 5;
    } else if (key === 'shape') {
      take('(');
      const dims: number[] = [];
      for (;;) {
        space();
        if (text[at] === ')') break;
        const digits = /^\d+/.exec(text.slice(at, at + 20))?.[0];
        if (!digits) fail('shape must be a tuple of integers');
        dims.push(Number(digits));
        at += digits!.length;
        space();
        if (text[at] === ',') at++;
        else if (text[at] !== ')') fail('shape must be a tuple of integers');
      }
      at++;
      fields.shape = dims;
    } else {
      fail(`unknown key '${key}'`);
    }
    space();
    if (text[at] === ',') at++;
    else if (text[at] !== '}') fail(`expected "," or "}" at character ${at}`);
  }
  at++;
  space();
  if (at !== text.length) fail('text after the closing brace');
  if (fields.descr === undefined || fields.fortran === undefined || fields.shape === undefined) fail('descr, fortran_order and shape are all required');
  return fields as NpyHeader;
}

/** Python objects in an array are stored by pickling them; reading such a file would mean unpickling. */
function isObjectDescr(descr: string): boolean {
  return /^[<>|=]?O\d*$/.test(descr);
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
  const { descr, fortran, shape } = parseHeader(header, path);
  if (isObjectDescr(descr)) {
    throw new UnsafeInputError('E_VERIFY_NPY_OBJECT', `${path}: dtype ${descr} is an array of Python objects, which numpy stores as a pickle; refused without reading it. Save the samples as float32 (np.asarray(x, np.float32))`, {
      file: path,
    });
  }
  if (fortran) throw bad(path, 'Fortran-order arrays are not supported; save with np.ascontiguousarray');
  const size = SIZES[descr];
  if (!size) {
    throw new UnsupportedModelError('E_VERIFY_NPY_DTYPE', `${path}: dtype ${descr} is not supported (use little-endian float32/float64/float16 or int16/int32/int64)`, { file: path, dtype: descr });
  }
  const numel = checkedNumel(shape, size);
  const at = headerStart + headerLength;
  if (numel === null || at + numel * size !== bytes.length) {
    throw bad(path, `holds ${bytes.length - at} data bytes; shape (${shape.join(', ')}) of ${descr} needs ${numel === null ? 'more than 2^53' : numel * size}`);
  }
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
