import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Three files at a time: most tests wait on real time (a cold start, a hold), and each bounds
    // its timing by what its own run measured, so they hold with every core busy.
    fileParallelism: true,
    maxWorkers: 3,
  },
});
