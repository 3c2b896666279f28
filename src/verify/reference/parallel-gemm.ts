/**
 * Float64 matrix products for the reference on every core: the SIMD kernel (simd-kernel.ts) over a shared
 * WebAssembly memory, the output's column blocks handed out to the calling thread and a pool of worker threads.
 *
 * - The pool is created on the first large product, sized to the machine (os.availableParallelism(): the caller plus
 *   n − 1 workers), and unref'd, so it never keeps a process alive. Workers that are not up yet simply get no work:
 *   the calling thread takes every block nobody else claimed, so a product never waits for a thread to start.
 * - The call stays synchronous (the reference forward is a plain function): the caller waits with Atomics.wait.
 * - Without WebAssembly SIMD or shared memory it reports "not done" and ops.ts runs its scalar JS kernel; without
 *   worker threads it runs on the calling thread alone.
 *
 * Protocol (one Int32Array `ctrl` over a SharedArrayBuffer): the caller writes a job's parameters, then the claim word
 * `tag << 20 | blocks` (tag = job number mod 2048), then bumps GEN and wakes the workers. A thread claims a block by
 * compare-exchanging the claim word down by one, and only while its tag is the job's, so a thread that wakes late
 * can never take part in a job it did not read the parameters of. Each finished block adds one to DONE; the caller
 * returns when DONE = blocks, and only then writes the next job.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type Dot24, simdKernelBytes } from './simd-kernel.js';

/** The part of the WebAssembly API used here (the project's TypeScript libs carry no DOM/wasm types). */
interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}
type WasmModule = object;
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}
const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

const PAGE_BYTES = 65536;
/** The shared memory's ceiling (reserved address space, not memory in use): 1 GiB. */
const MAX_PAGES = 16384;
/** Operand bytes (rows of A plus rows of the output) per pass; longer inputs are done in several passes. */
const PASS_BYTES = 192 << 20;
/** Below this many multiply-adds a product stays on the calling thread (waking workers costs more than it saves). */
const PARALLEL_MIN_MACS = 1 << 20;

// ctrl slots
const GEN = 0, CLAIM = 1, DONE = 2, A_BASE = 3, A_STRIDE = 4, ROWS = 5, W_BASE = 6, ROW_BYTES = 7, N = 8, OUT_BASE = 9, OUT_STRIDE = 10;
/** Workers of an older pool (another thread count, or stopped) leave their loop when this moves on. */
const EPOCH = 11;
const CTRL_SLOTS = 16;

/**
 * Claims and computes column blocks of the current job until none is left. Self-contained (its source runs in the
 * workers too): only its arguments and globals. Slots as above; every address in bytes.
 */
function runBlocks(ctrl: Int32Array, gen: number, dot: Dot24): void {
  const tag = gen & 0x7ff;
  const aBase = ctrl[3]!, aStride = ctrl[4]!, rows = ctrl[5]!, wBase = ctrl[6]!, rowBytes = ctrl[7]!, n = ctrl[8]!;
  const outBase = ctrl[9]!, outStride = ctrl[10]!;
  const blocks = Math.ceil(n / 4);
  for (;;) {
    const claim = Atomics.load(ctrl, 1);
    if (claim >>> 20 !== tag) return;
    const remaining = claim & 0xfffff;
    if (remaining === 0) return;
    if (Atomics.compareExchange(ctrl, 1, claim, claim - 1) !== claim) continue;
    const o = (remaining - 1) * 4;
    const last = n - 1;
    const w0 = wBase + o * rowBytes;
    const w1 = wBase + Math.min(o + 1, last) * rowBytes;
    const w2 = wBase + Math.min(o + 2, last) * rowBytes;
    const w3 = wBase + Math.min(o + 3, last) * rowBytes;
    const outColumn = outBase + o * 8;
    // an odd last row is computed twice into the same place; columns past n land in the output's row padding
    for (let r = 0; r < rows; r += 2) {
      const r1 = r + 1 < rows ? r + 1 : r;
      dot(aBase + r * aStride, aBase + r1 * aStride, w0, w1, w2, w3, rowBytes, outColumn + r * outStride, outColumn + r1 * outStride);
    }
    if (Atomics.add(ctrl, 2, 1) + 1 === blocks) Atomics.notify(ctrl, 2);
  }
}

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctrl, epoch } = workerData;
const dot = new WebAssembly.Instance(module, { env: { memory } }).exports.dot24;
const runBlocks = ${runBlocks.toString()};
let seen = Atomics.load(ctrl, ${GEN});
while (Atomics.load(ctrl, ${EPOCH}) === epoch) {
  runBlocks(ctrl, seen, dot);
  Atomics.wait(ctrl, ${GEN}, seen);
  seen = Atomics.load(ctrl, ${GEN});
}
`;

const align16 = (n: number) => (n + 15) & ~15;

class SimdGemm {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(CTRL_SLOTS * 4));
  private readonly dot: Dot24;
  private job = 0;
  private workers: Worker[] | null = null;

  constructor(
    private readonly module: WasmModule,
    private readonly memory: WasmMemory,
    private threads: number,
    api: WasmApi,
  ) {
    this.dot = new api.Instance(module, { env: { memory } }).exports['dot24'] as Dot24;
  }

  setThreads(threads: number): void {
    const wanted = Math.max(1, Math.floor(threads));
    if (wanted === this.threads) return;
    this.threads = wanted;
    void this.stopWorkers(); // the next large product starts a pool of the new size
  }

  get threadCount(): number {
    return this.threads;
  }

  /** Workers started so far (they may still be starting). */
  get workerCount(): number {
    return this.workers?.length ?? 0;
  }

  /**
   * Retires the pool: its workers finish any block they hold and leave their loop (never killed mid-block, which
   * would leave a product waiting for it forever). Resolves when they have exited.
   */
  async stopWorkers(): Promise<void> {
    const workers = this.workers ?? [];
    this.workers = null;
    if (workers.length === 0) return;
    const exited = workers.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
    Atomics.add(this.ctrl, EPOCH, 1);
    this.job = (this.job + 1) | 0; // wake the sleepers with a job number no real job uses
    Atomics.store(this.ctrl, GEN, this.job);
    Atomics.notify(this.ctrl, GEN);
    await Promise.all(exited);
  }

  private startWorkers(): void {
    if (this.workers || this.threads < 2) return;
    this.workers = [];
    try {
      for (let i = 1; i < this.threads; i++) {
        const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module: this.module, memory: this.memory, ctrl: this.ctrl, epoch: Atomics.load(this.ctrl, EPOCH) } });
        worker.unref();
        worker.on('error', () => {}); // a worker that fails just takes no blocks; the caller does them
        this.workers.push(worker);
      }
    } catch {
      // no worker threads here (a restricted runtime): stay single-threaded
    }
  }

  private ensureBytes(bytes: number): boolean {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return true;
    const pages = Math.ceil((bytes - have) / PAGE_BYTES);
    try {
      this.memory.grow(pages);
      return true;
    } catch {
      return false;
    }
  }

  private run(rows: number, aBase: number, aStride: number, wBase: number, rowBytes: number, n: number, outBase: number, outStride: number, macs: number): void {
    const ctrl = this.ctrl;
    const blocks = Math.ceil(n / 4);
    ctrl[A_BASE] = aBase;
    ctrl[A_STRIDE] = aStride;
    ctrl[ROWS] = rows;
    ctrl[W_BASE] = wBase;
    ctrl[ROW_BYTES] = rowBytes;
    ctrl[N] = n;
    ctrl[OUT_BASE] = outBase;
    ctrl[OUT_STRIDE] = outStride;
    this.job = (this.job + 1) | 0;
    Atomics.store(ctrl, DONE, 0);
    Atomics.store(ctrl, CLAIM, ((this.job & 0x7ff) << 20) | blocks);
    if (this.threads > 1 && macs >= PARALLEL_MIN_MACS) {
      this.startWorkers();
      Atomics.store(ctrl, GEN, this.job);
      Atomics.notify(ctrl, GEN);
    }
    runBlocks(ctrl, this.job, this.dot);
    for (let done = Atomics.load(ctrl, DONE); done < blocks; done = Atomics.load(ctrl, DONE)) Atomics.wait(ctrl, DONE, done, 50);
  }

  /** Same contract as ops.ts gemm; false when these operands do not fit the kernel (the caller then runs JS). */
  gemm(
    a: Float64Array, aOff: number, aStride: number, rows: number,
    w: Float64Array, n: number, len: number, bias: Float64Array | null,
    out: Float64Array, outOff: number, outStride: number,
  ): boolean {
    const padded = len + (len & 1); // the kernel takes pairs: odd rows get a zero
    const overlapping = aStride < len; // a convolution's input windows share samples
    if (overlapping && padded !== len) return false;
    const nPadded = Math.ceil(n / 4) * 4;
    const aRowFloats = overlapping ? aStride : padded;
    const wBase = 64;
    const aBase = align16(wBase + n * padded * 8);
    const passRows = Math.max(2, Math.min(rows, Math.floor(PASS_BYTES / ((aRowFloats + nPadded) * 8))));
    const aBytes = ((passRows - 1) * aRowFloats + padded) * 8;
    const outBase = align16(aBase + aBytes);
    if (!this.ensureBytes(outBase + passRows * nPadded * 8)) return false;
    const mem = new Float64Array(this.memory.buffer);

    if (padded === len) mem.set(w.subarray(0, n * len), wBase / 8);
    else {
      for (let o = 0; o < n; o++) {
        mem.set(w.subarray(o * len, o * len + len), wBase / 8 + o * padded);
        mem[wBase / 8 + o * padded + len] = 0;
      }
    }
    for (let r0 = 0; r0 < rows; r0 += passRows) {
      const count = Math.min(passRows, rows - r0);
      const first = aOff + r0 * aStride;
      if (overlapping || aStride === padded) {
        mem.set(a.subarray(first, first + (count - 1) * aStride + len), aBase / 8);
      } else {
        for (let r = 0; r < count; r++) {
          mem.set(a.subarray(first + r * aStride, first + r * aStride + len), aBase / 8 + r * padded);
          if (padded !== len) mem[aBase / 8 + r * padded + len] = 0;
        }
      }
      this.run(count, aBase, aRowFloats * 8, wBase, padded * 8, n, outBase, nPadded * 8, count * n * len);
      const result = new Float64Array(this.memory.buffer, outBase, count * nPadded);
      for (let r = 0; r < count; r++) {
        const to = outOff + (r0 + r) * outStride;
        const from = r * nPadded;
        if (bias) for (let o = 0; o < n; o++) out[to + o] = result[from + o]! + bias[o]!;
        else for (let o = 0; o < n; o++) out[to + o] = result[from + o]!;
      }
    }
    return true;
  }
}

function threadsFromEnvironment(): number {
  const configured = Number(process.env['HUBERT_CONVERT_REFERENCE_THREADS']);
  if (Number.isInteger(configured) && configured >= 1) return configured;
  return availableParallelism();
}

let engine: SimdGemm | null | undefined;

/** The process-wide engine, created on first use; null where WebAssembly SIMD or shared memory is unavailable. */
export function simdGemm(): SimdGemm | null {
  if (engine !== undefined) return engine;
  engine = null;
  try {
    const bytes = simdKernelBytes(MAX_PAGES);
    if (wasm && wasm.validate(bytes)) {
      const memory = new wasm.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
      engine = new SimdGemm(new wasm.Module(bytes), memory, threadsFromEnvironment(), wasm);
    }
  } catch {
    engine = null; // no SIMD, no shared memory: ops.ts's scalar kernel does the work
  }
  return engine;
}

/** Threads the reference's products use (the caller included); default os.availableParallelism(). */
export function setReferenceThreads(threads: number): void {
  simdGemm()?.setThreads(threads);
}

/** Ends the worker threads now (they are unref'd, so this is only needed to free them early, e.g. in tests). */
export async function stopReferenceThreads(): Promise<void> {
  await simdGemm()?.stopWorkers();
}
