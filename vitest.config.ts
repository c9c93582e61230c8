import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Engine tests start worker threads and real sockets: run files one at a time on 2 cores.
    fileParallelism: false,
  },
});
