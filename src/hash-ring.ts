/**
 * The sha256 of an output file computed on another thread, fed through a ring of shared buffers: the writer fills a
 * slot (reading tensor bytes straight into it where it can), writes it to the file and hands the slot to the
 * thread, which hashes it and gives it back. Hashing is the largest single cost of a conversion (about 0.55 CPU-s per
 * GB); on its own thread it runs beside the reads and writes instead of on the writer's critical path, and no byte is
 * copied or read one more time for it (bench/RESULTS.md). The writer waits only when every slot is still in use.
 */
import { Worker } from 'node:worker_threads';
import { FileSystemError, HubertConvertError } from './errors.js';

/** Slots in the ring and bytes per slot: 8 × 1 MiB lets the writer run ahead of a briefly descheduled hasher (4, 8 and 16 measured alike). */
const SLOTS = 8;
export const SLOT_BYTES = 1 << 20;

// control block: Int32 [produced, consumed, finished]; then one Int32 length per slot
const PRODUCED = 0;
const CONSUMED = 1;
const FINISHED = 2;
const CONTROL_INTS = 3;
/** The writer gives up on a thread that takes no data for this long (it died: its error arrives by the event loop). */
const STALL_LIMIT_MS = 60_000;

// A plain script (eval'd), so it needs no separate build output.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { slots, slotBytes } = workerData;
const control = new Int32Array(workerData.control);
const data = new Uint8Array(workerData.data);
const hash = createHash('sha256');
let consumed = 0;
let bytes = 0;
try {
  for (;;) {
    const produced = Atomics.load(control, ${PRODUCED});
    if (consumed === produced) {
      if (Atomics.load(control, ${FINISHED}) === 1 && Atomics.load(control, ${PRODUCED}) === consumed) break;
      Atomics.wait(control, ${PRODUCED}, produced);
      continue;
    }
    for (; consumed < produced; consumed++) {
      const slot = consumed % slots;
      const length = control[${CONTROL_INTS} + slot];
      hash.update(data.subarray(slot * slotBytes, slot * slotBytes + length));
      bytes += length;
      Atomics.store(control, ${CONSUMED}, consumed + 1);
      Atomics.notify(control, ${CONSUMED});
    }
  }
  parentPort.postMessage({ sha256: hash.digest('hex'), bytes });
} catch (error) {
  parentPort.postMessage({ error: String(error && error.message) });
}
`;

export interface RingHash {
  /**
   * A free slot of `length` bytes (at most SLOT_BYTES) to fill and then pass to push(); waits while every slot is in
   * use. Only one slot is out at a time.
   */
  slot(length: number): Uint8Array;
  /** Hands bytes to the thread, in file order: the slot from slot() (no copy), or any bytes (copied into slots). */
  push(bytes: Uint8Array): void;
  /** The sha256 of everything pushed (rejects with E_OUTPUT_WRITE if the thread failed). */
  digest(): Promise<string>;
  /** Stops the thread (after an error elsewhere); harmless when it has finished. */
  cancel(): void;
}

/** Starts a hashing thread for the file `name` (for messages). */
export function startRingHash(name: string): RingHash {
  const control = new Int32Array(new SharedArrayBuffer((CONTROL_INTS + SLOTS) * 4));
  const data = new Uint8Array(new SharedArrayBuffer(SLOTS * SLOT_BYTES));
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { slots: SLOTS, slotBytes: SLOT_BYTES, control: control.buffer, data: data.buffer } });
  let failure: FileSystemError | undefined;
  const failed = (reason: string) => (failure ??= new FileSystemError('E_OUTPUT_WRITE', `cannot hash ${name}: ${reason}`, { path: name }));
  const result = new Promise<{ sha256: string; bytes: number }>((resolve, reject) => {
    worker.once('message', (m: { sha256: string; bytes: number } | { error: string }) => ('error' in m ? reject(failed(m.error)) : resolve(m)));
    worker.once('error', (error) => reject(failed(error.message)));
    worker.once('exit', () => reject(failed('the hashing thread stopped')));
  });
  // a cancelled hash that nobody awaits must not become an unhandled rejection
  result.catch(() => {});
  let produced = 0;
  let pushed = 0;
  let lent: Uint8Array | null = null;
  const free = (): Uint8Array => {
    // a thread that died cannot free slots: its error (delivered by the event loop) ends the write at digest()
    for (;;) {
      const consumed = Atomics.load(control, CONSUMED);
      if (produced - consumed < SLOTS) break;
      if (Atomics.wait(control, CONSUMED, consumed, STALL_LIMIT_MS) === 'timed-out' && Atomics.load(control, CONSUMED) === consumed) {
        throw failed(`the hashing thread took no data for ${STALL_LIMIT_MS / 1000} s`);
      }
    }
    const at = (produced % SLOTS) * SLOT_BYTES;
    return data.subarray(at, at + SLOT_BYTES);
  };
  const publish = (length: number) => {
    control[CONTROL_INTS + (produced % SLOTS)] = length;
    produced++;
    pushed += length;
    Atomics.store(control, PRODUCED, produced);
    Atomics.notify(control, PRODUCED);
  };
  return {
    slot(length) {
      if (length > SLOT_BYTES) throw new HubertConvertError('internal', 'E_INTERNAL_RING_SLOT', `a slot of ${length} bytes was asked for; slots hold ${SLOT_BYTES}`);
      lent = free().subarray(0, length);
      return lent;
    },
    push(bytes) {
      if (lent && bytes.buffer === lent.buffer && bytes.byteOffset === lent.byteOffset && bytes.byteLength <= lent.byteLength) {
        lent = null;
        publish(bytes.byteLength);
        return;
      }
      lent = null;
      for (let at = 0; at < bytes.byteLength; ) {
        const n = Math.min(SLOT_BYTES, bytes.byteLength - at);
        free().set(bytes.subarray(at, at + n));
        publish(n);
        at += n;
      }
    },
    async digest() {
      Atomics.store(control, FINISHED, 1);
      Atomics.notify(control, PRODUCED);
      const done = await result;
      if (done.bytes !== pushed) throw failed(`hashed ${done.bytes} bytes, not ${pushed}`);
      return done.sha256;
    },
    cancel() {
      Atomics.store(control, FINISHED, 1);
      Atomics.notify(control, PRODUCED);
      void worker.terminate();
    },
  };
}
