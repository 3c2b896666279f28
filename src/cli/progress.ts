/**
 * Progress for long steps, on stderr. On a TTY one line is redrawn in place (throttled); otherwise a plain line is
 * printed at most every few seconds and at the end of each step, so CI logs stay readable. Silent when disabled.
 */
export interface ProgressSink {
  update(step: string, done: number, total: number, unit?: 'bytes' | 'items'): void;
  finish(step: string): void;
}

const MB = 1e6;

/** `moved` bytes in `seconds`: the rate counts only what happened since the step was first shown. */
function format(done: number, total: number, unit: 'bytes' | 'items', moved: number, seconds: number): string {
  if (unit === 'items') return `${done}/${total}`;
  const rate = seconds > 0 ? ` ${(moved / MB / seconds).toFixed(0)} MB/s` : '';
  return `${(done / MB).toFixed(1)}/${(total / MB).toFixed(1)} MB${rate}`;
}

export function createProgress(stream: NodeJS.WriteStream, enabled: boolean): ProgressSink {
  if (!enabled) return { update() {}, finish() {} };
  const tty = stream.isTTY === true;
  const interval = tty ? 100 : 3000;
  let current: { step: string; started: number; startDone: number; lastPrint: number; text: string } | null = null;
  const print = (text: string, final: boolean) => {
    if (tty) stream.write(`\r\x1b[2K${text}${final ? '\n' : ''}`);
    else stream.write(`${text}\n`);
  };
  return {
    update(step, done, total, unit = 'bytes') {
      const now = Date.now();
      if (!current || current.step !== step) {
        if (current) this.finish(current.step);
        current = { step, started: now, startDone: done, lastPrint: 0, text: '' };
      }
      current.text = `${step}: ${format(done, total, unit, done - current.startDone, (now - current.started) / 1000)}`;
      if (now - current.lastPrint >= interval) {
        current.lastPrint = now;
        print(current.text, false);
      }
    },
    finish(step) {
      if (!current || current.step !== step) return;
      const seconds = ((Date.now() - current.started) / 1000).toFixed(1);
      print(`${current.text} (done in ${seconds} s)`, true);
      current = null;
    },
  };
}
