/**
 * Temporary outputs in flight, removed if the process is interrupted, so Ctrl-C never leaves partial output.
 *
 * Writers register a temporary path before creating it and unregister it once it has been renamed into place (or
 * removed). While anything is registered, SIGINT/SIGTERM handlers are installed: they remove every registered path
 * synchronously and then, when no other handler for that signal exists, re-raise the signal so the process ends
 * with the usual status (130 for SIGINT, 143 for SIGTERM). An `exit` handler removes leftovers on process.exit().
 * With nothing registered no handler is installed, so Node's default signal behaviour is untouched.
 */
import { rmSync } from 'node:fs';

const inFlight = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

function removeAll(): void {
  for (const path of inFlight) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // best effort: we are being interrupted, keep removing the others
    }
  }
  inFlight.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeAll();
  uninstall();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  for (const signal of SIGNALS) process.on(signal, onSignal);
  process.on('exit', removeAll);
}

function uninstall(): void {
  for (const signal of SIGNALS) process.off(signal, onSignal);
  process.off('exit', removeAll);
}

/** Marks `path` (file or folder) for removal on interruption. */
export function registerTemporary(path: string): void {
  if (inFlight.size === 0) install();
  inFlight.add(path);
}

/** `path` was renamed into place or removed: nothing to clean up any more. */
export function unregisterTemporary(path: string): void {
  if (!inFlight.delete(path)) return;
  if (inFlight.size === 0) uninstall();
}

/** The registered paths (for tests and diagnostics). */
export function temporariesInFlight(): readonly string[] {
  return [...inFlight];
}
