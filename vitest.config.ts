import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // e2e tests start real daemons and Python clients; keep the 2-core machines unhurried.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
