/**
 * Reference outputs are the expensive part of verification (a float64 forward pass); every check that needs the
 * same (input, mask, hidden states) combination shares one computation.
 */
import type { HfModel } from '../model.js';
import { type ReferenceTensor, referenceForward } from './reference/forward.js';

export interface ReferenceRequest {
  /** a stable key for the input values (e.g. the input's name) */
  key: string;
  inputValues: Float32Array;
  batch: number;
  length: number;
  mask: BigInt64Array | null;
  hiddenStates: boolean;
}

export class ReferenceCache {
  private readonly results = new Map<string, Record<string, ReferenceTensor>>();
  constructor(private readonly model: HfModel) {}

  get(request: ReferenceRequest): Record<string, ReferenceTensor> {
    const masked = request.mask !== null;
    // a result with hidden states also answers a request without them
    const withHidden = this.results.get(`${request.key}|${masked}|true`);
    if (withHidden) return withHidden;
    const key = `${request.key}|${masked}|${request.hiddenStates}`;
    let result = this.results.get(key);
    if (!result) {
      result = referenceForward(
        this.model,
        { inputValues: request.inputValues, batch: request.batch, length: request.length, ...(request.mask ? { attentionMask: request.mask } : {}) },
        { hiddenStates: request.hiddenStates },
      );
      this.results.set(key, result);
    }
    return result;
  }
}
