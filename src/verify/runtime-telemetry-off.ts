/**
 * Imported (for its effect) before onnxruntime-node, and by nothing else first.
 *
 * onnxruntime 1.30 on Linux and macOS bundles Microsoft's 1DS telemetry SDK. Unless switched off, creating the first
 * session starts an uploader that sends usage events (process and session information) to
 * mobile.events.data.microsoft.com, stores a device id and an offline event database under
 * ~/.cache/Microsoft/DeveloperTools/.onnxruntime/, and leaves `.ses` and `mat-debug-<pid>.log` in the temporary
 * directory. The Node binding does not expose the C API's DisableTelemetryEvents; the runtime instead reads
 * ORT_DISABLE_TELEMETRY when its environment is created, and with a truthy value never creates the uploader, sends
 * nothing and writes nothing. So we set it, in this process only, before the runtime is loaded. (On Windows the
 * runtime emits ETW events only to a trace session that a user or the OS starts; the variable does not apply there.)
 */
process.env['ORT_DISABLE_TELEMETRY'] = '1';

export {};
