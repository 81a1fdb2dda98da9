import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The loader's tests and the Redshift double's (a workspace package): one run, one stack.
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    // Snapshots are never written as a side effect of a test run, locally as in CI: a
    // missing, changed or obsolete snapshot fails. Update them on purpose with -u.
    update: 'none',
    reporters: ['default', './test/slowest-reporter.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
