/**
 * Reference outputs are the expensive part of verification (a float64 forward pass). Batch rows are independent in
 * HuBERT, so results are cached per row — keyed by the row's samples, its real length when masked, and whether hidden
 * states were asked for — and a row shared by several inputs (the built-in `batch` repeats `single` as row 0) is
 * computed once. A row whose mask covers every sample is the same computation as the unmasked row. `prepare` computes
 * every missing row of several requests in one pass, so each weight is decoded once for all of them.
 */
import { createHash } from 'node:crypto';
import type { HfModel } from '../model.js';
import { type ReferenceProgress, type ReferenceRow, type ReferenceTensor, referenceForwardRows, stackRows } from './reference/forward.js';

export interface ReferenceRequest {
  inputValues: Float32Array;
  batch: number;
  length: number;
  mask: BigInt64Array | null;
  hiddenStates: boolean;
}

type Outputs = Record<string, ReferenceTensor>;

interface RowRequest {
  id: string;
  real: number | null;
  values: Float32Array;
}

export class ReferenceCache {
  private readonly rows = new Map<string, Outputs>();
  /** rows actually computed (for tests and timing) */
  computed = 0;
  /** forward passes run (each over one or more rows) */
  passes = 0;

  /** `onProgress` hears every pass: the label its caller gave, how many rows it computes, and where it is. */
  constructor(
    readonly model: HfModel,
    private readonly onProgress?: (label: string, rows: number, progress: ReferenceProgress) => void,
  ) {}

  private rowsOf(request: ReferenceRequest): RowRequest[] {
    const { inputValues, batch, length, mask } = request;
    const out: RowRequest[] = [];
    for (let b = 0; b < batch; b++) {
      const values = inputValues.subarray(b * length, (b + 1) * length);
      let real = length;
      if (mask) {
        real = 0;
        for (let i = b * length; i < (b + 1) * length; i++) real += Number(mask[i]!);
      }
      const id = createHash('sha256').update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)).digest('hex');
      out.push({ id, real: mask !== null && real !== length ? real : null, values });
    }
    return out;
  }

  private key(row: RowRequest, hidden: boolean): string {
    return `${row.id}|${row.values.length}|${row.real ?? 'all'}|${hidden}`;
  }

  private cached(row: RowRequest, hidden: boolean): Outputs | undefined {
    return this.rows.get(this.key(row, true)) ?? this.rows.get(this.key(row, hidden));
  }

  /** Computes every row of `requests` that is not cached yet, in one pass; `label` names them for progress. */
  prepare(requests: readonly ReferenceRequest[], label = 'input'): void {
    const missing = new Map<string, RowRequest>();
    let hidden = false;
    for (const request of requests) {
      for (const row of this.rowsOf(request)) {
        if (this.cached(row, request.hiddenStates)) continue;
        missing.set(this.key(row, false), row);
        hidden ||= request.hiddenStates;
      }
    }
    if (missing.size === 0) return;
    const rows = [...missing.values()];
    const inputs: ReferenceRow[] = rows.map((r) => ({ samples: r.values, realSamples: r.real }));
    const onProgress = this.onProgress;
    const results = referenceForwardRows(this.model, inputs, { hiddenStates: hidden, ...(onProgress ? { onProgress: (p: ReferenceProgress) => onProgress(label, rows.length, p) } : {}) });
    rows.forEach((row, i) => this.rows.set(this.key(row, hidden), results[i]!));
    this.computed += rows.length;
    this.passes++;
  }

  get(request: ReferenceRequest): Outputs {
    this.prepare([request]);
    const rows = this.rowsOf(request).map((row) => this.cached(row, request.hiddenStates)!);
    const names = Object.keys(rows[0]!).filter((name) => request.hiddenStates || !name.startsWith('hidden_states.'));
    return stackRows(rows, names);
  }
}
