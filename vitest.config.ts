import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['shared/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // EMBEDCAM_REQUIRE_SHARED=1 turns missing shared data into a failed run instead of skipped suites.
    globalSetup: ['test/support/global-setup.ts'],
    // Model-heavy suites compete for 2 cores; keep forks bounded.
    pool: 'forks',
    maxWorkers: 2,
    // Quiet logs in test output; the AWS SDK's notice about Node 20 is known (see README).
    env: { LOG_LEVEL: 'warn', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
