import { defineConfig } from 'vitest/config';

// One suite: unit tests beside the code (*.test.ts), repository tests on a real PostgreSQL
// (*.db.test.ts, also run in CI against the system PostgreSQL 15 through DATABASE_URL), HTTP
// tests in-process, and browser tests (test/browser, Debian's Chromium).
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
