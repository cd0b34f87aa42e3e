import { defineConfig } from 'vitest/config';

// chDB is one engine per process, so every test file runs in its own forked process and
// makes its own ClickHouse database and Postgres database (see test/support/stores.ts).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    isolate: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
