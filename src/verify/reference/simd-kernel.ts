/**
 * The reference's matrix-product kernel as a tiny WebAssembly module, encoded here byte by byte (no toolchain, no
 * dependency): `dot24` computes a 2×4 block of float64 dot products with f64x2 SIMD, eight two-lane accumulators,
 * and stores row 0's four sums at `out0` and row 1's at `out1`. Plain JS cannot use SIMD and reaches about 4 GFLOP/s
 * here; this kernel about 15–18 (bench/RESULTS.md). The arithmetic is float64 throughout: only the summation order
 * differs from a sequential loop (even and odd terms summed apart, then added).
 *
 * Signature: dot24(a0, a1, w0, w1, w2, w3, bytes, out0, out1), every argument an i32 byte address into the imported
 * memory except `bytes`, the length of each row in bytes (a multiple of 16: rows are zero-padded to an even length).
 */

const I32 = 0x7f;
const V128 = 0x7b;

function leb(value: number): number[] {
  const out: number[] = [];
  let n = value >>> 0;
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

const vector = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const name = (text: string): number[] => [...leb(text.length), ...Buffer.from(text, 'utf8')];
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];

const localGet = (i: number) => [0x20, ...leb(i)];
const localSet = (i: number) => [0x21, ...leb(i)];
const simd = (op: number) => [0xfd, ...leb(op)];
/** memarg: alignment hint 2³ (rows are 8-byte aligned, not 16), offset */
const V128_LOAD = [...simd(0x00), 3, 0];
const F64X2_EXTRACT_LANE = simd(0x21);
const F64X2_ADD = simd(0xf0);
const F64X2_MUL = simd(0xf2);
const F64_ADD = [0xa0];
const F64_STORE = (offset: number) => [0x39, 3, ...leb(offset)];
const I32_ADD = [0x6a];
const I32_GE_U = [0x4f];
const I32_CONST = (v: number) => [0x41, ...leb(v)];

// parameters, then locals: j (i32), acc0..acc7, x0, x1, y (v128)
const A0 = 0, A1 = 1, W0 = 2, BYTES = 6, OUT0 = 7, OUT1 = 8;
const J = 9, ACC = 10, X0 = 18, X1 = 19, Y = 20;

function dot24Body(): number[] {
  const code: number[] = [];
  code.push(0x02, 0x40, 0x03, 0x40); // block, loop
  code.push(...localGet(J), ...localGet(BYTES), ...I32_GE_U, 0x0d, 1); // br_if out when j >= bytes
  code.push(...localGet(A0), ...localGet(J), ...I32_ADD, ...V128_LOAD, ...localSet(X0));
  code.push(...localGet(A1), ...localGet(J), ...I32_ADD, ...V128_LOAD, ...localSet(X1));
  for (let k = 0; k < 4; k++) {
    code.push(...localGet(W0 + k), ...localGet(J), ...I32_ADD, ...V128_LOAD, ...localSet(Y));
    code.push(...localGet(ACC + k), ...localGet(X0), ...localGet(Y), ...F64X2_MUL, ...F64X2_ADD, ...localSet(ACC + k));
    code.push(...localGet(ACC + 4 + k), ...localGet(X1), ...localGet(Y), ...F64X2_MUL, ...F64X2_ADD, ...localSet(ACC + 4 + k));
  }
  code.push(...localGet(J), ...I32_CONST(16), ...I32_ADD, ...localSet(J), 0x0c, 0); // j += 16; continue
  code.push(0x0b, 0x0b); // end loop, end block
  for (let k = 0; k < 8; k++) {
    const out = k < 4 ? OUT0 : OUT1;
    code.push(...localGet(out), ...localGet(ACC + k), ...F64X2_EXTRACT_LANE, 0, ...localGet(ACC + k), ...F64X2_EXTRACT_LANE, 1, ...F64_ADD, ...F64_STORE(8 * (k % 4)));
  }
  code.push(0x0b);
  const locals = vector([[...leb(1), I32], [...leb(11), V128]]);
  return [...locals, ...code];
}

/** The module bytes; it imports `env.memory` (shared, at most `maxPages` 64 KiB pages) and exports `dot24`. */
export function simdKernelBytes(maxPages: number): Uint8Array {
  const body = dot24Body();
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, vector([[0x60, ...vector(new Array<number[]>(9).fill([I32])), 0]])), // type: (i32 × 9) → ()
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x03, ...leb(1), ...leb(maxPages)]])), // shared memory
    ...section(3, vector([[0]])), // one function of type 0
    ...section(7, vector([[...name('dot24'), 0x00, 0]])),
    ...section(10, vector([[...leb(body.length), ...body]])),
  ];
  return new Uint8Array(bytes);
}

export type Dot24 = (a0: number, a1: number, w0: number, w1: number, w2: number, w3: number, bytes: number, out0: number, out1: number) => void;
