import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two cores: keep the pool small so PostgreSQL-backed suites do not starve each other.
    pool: 'forks',
    maxWorkers: 2,
    // Tests never wait for time to pass, so a timeout only ends a hang; this machine's speed varies
    // by 2-3x from run to run, and the heaviest tests (child processes, tsc) need the headroom.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
