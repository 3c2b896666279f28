/**
 * What verify is doing, for a progress display. `unit` names what `done`/`total` count ("layer", "conv layer",
 * "tensor", "bytes"); an empty unit is a stage with no counter, reported with done 0 when it starts and done = total
 * when it ends.
 */
export interface VerifyProgress {
  step: string;
  unit: string;
  done: number;
  total: number;
}

export type VerifyProgressSink = (event: VerifyProgress) => void;

/** Reports `step` as a stage around `work` (start, then end), whatever `work` returns or throws. */
export async function stage<T>(sink: VerifyProgressSink | undefined, step: string, work: () => T | Promise<T>): Promise<T> {
  sink?.({ step, unit: '', done: 0, total: 1 });
  try {
    return await work();
  } finally {
    sink?.({ step, unit: '', done: 1, total: 1 });
  }
}
