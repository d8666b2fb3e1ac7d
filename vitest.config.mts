import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Examples import the package by name, as users do; under vitest that is the source in lib/.
  resolve: { alias: [{ find: /^embedkit$/, replacement: new URL('./lib/index.ts', import.meta.url).pathname }] },
  test: {
    include: ['test/**/*.test.ts'],
    // test/gpu/ runs too: without a GPU its specs skip with a message (test/gpu/setup.ts).
    exclude: ['node_modules/**'],
    // The kernels use their own thread pool; one test file at a time keeps timings and
    // thread-count tests honest on a 2-core machine.
    fileParallelism: false,
    testTimeout: 60_000,
    // The JSON report lets .ci/run print one closing 'N passed, N failed' line for the whole run.
    reporters: ['default', 'json'],
    outputFile: { json: './test-results/vitest.json' },
  },
});
