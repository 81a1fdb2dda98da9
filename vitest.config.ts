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
    // The AWS SDK's notice that its 2027 releases need Node 22, once per test file: noise
    // (the CLI turns it off the same way, src/cli/index.ts).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
