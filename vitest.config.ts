import { defineConfig } from 'vitest/config';

// Unit tests are pure and run in parallel. E2E tests create network namespaces as root; they run
// one file at a time so that load and timing of one sandbox never disturb another.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
