import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['shared/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Model-heavy suites compete for 2 cores; keep forks bounded.
    pool: 'forks',
    maxWorkers: 2,
  },
});
