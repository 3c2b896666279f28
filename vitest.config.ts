import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // tests that load onnxruntime directly (test/onnx/helpers.ts) would otherwise leave its telemetry files in /tmp;
    // the product sets this itself (src/verify/runtime-telemetry-off.ts), and the leftovers test unsets it on purpose
    env: { ORT_DISABLE_TELEMETRY: '1' },
  },
});
