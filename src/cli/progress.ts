/**
 * Progress for long steps, on stderr. On a TTY one line is redrawn in place (throttled); otherwise a plain line is
 * printed when a step starts, at most every few seconds while it runs, and when it ends, so CI logs stay readable.
 * Silent when disabled.
 *
 * Every counter says what it counts: `bytes` (shown in MB with the rate), a noun ("tensor 12/93", "layer 7/12"), or
 * '' for a stage that has no counter ("fp32: load onnx/model.onnx into onnxruntime"). Steps that run long get an ETA.
 */
export type ProgressUnit = 'bytes' | string;

export interface ProgressSink {
  update(step: string, done: number, total: number, unit?: ProgressUnit): void;
  finish(step: string): void;
}

const MB = 1e6;
/** An ETA is shown once a step has run this long (earlier estimates jump around). */
const ETA_AFTER_SECONDS = 2;

function duration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

/** `moved` units in `seconds`: the rate and ETA count only what happened since the step was first shown. */
export function formatProgress(step: string, done: number, total: number, unit: ProgressUnit, moved: number, seconds: number): string {
  if (unit === '') return `${step} …`;
  const counter = unit === 'bytes' ? `${(done / MB).toFixed(1)}/${(total / MB).toFixed(1)} MB` : `${unit} ${done}/${total}`;
  const rate = unit === 'bytes' && seconds > 0 ? `, ${(moved / MB / seconds).toFixed(0)} MB/s` : '';
  const eta = seconds >= ETA_AFTER_SECONDS && moved > 0 && done < total ? `, ETA ${duration(((total - done) * seconds) / moved)}` : '';
  return `${step}: ${counter}${rate}${eta}`;
}

export function createProgress(stream: NodeJS.WriteStream, enabled: boolean): ProgressSink {
  if (!enabled) return { update() {}, finish() {} };
  const tty = stream.isTTY === true;
  const interval = tty ? 100 : 3000;
  let current: { step: string; unit: ProgressUnit; started: number; startDone: number; lastPrint: number; text: string } | null = null;
  const print = (text: string, final: boolean) => {
    if (tty) stream.write(`\r\x1b[2K${text}${final ? '\n' : ''}`);
    else stream.write(`${text}\n`);
  };
  return {
    update(step, done, total, unit = 'bytes') {
      const now = Date.now();
      if (!current || current.step !== step) {
        if (current) this.finish(current.step);
        current = { step, unit, started: now, startDone: done, lastPrint: 0, text: '' };
      }
      current.text = formatProgress(step, done, total, unit, done - current.startDone, (now - current.started) / 1000);
      if (now - current.lastPrint >= interval) {
        current.lastPrint = now;
        print(current.text, false);
      }
    },
    finish(step) {
      if (!current || current.step !== step) return;
      const seconds = ((Date.now() - current.started) / 1000).toFixed(1);
      const text = current.unit === '' ? step : current.text.replace(/, ETA [^,]*$/, '');
      print(`${text} (done in ${seconds} s)`, true);
      current = null;
    },
  };
}

/**
 * Adapts a stream of (step, done, total, unit) events to a sink: a new step ends the one before, and a stage (unit
 * '') ends when it reports done = total.
 */
export function progressReporter(sink: ProgressSink): { report(step: string, done: number, total: number, unit: ProgressUnit): void; end(): void } {
  let last = '';
  return {
    report(step, done, total, unit) {
      if (last && step !== last) sink.finish(last);
      last = step;
      sink.update(step, done, total, unit);
      if (unit === '' && done >= total) {
        sink.finish(step);
        last = '';
      }
    },
    end() {
      if (last) sink.finish(last);
      last = '';
    },
  };
}
