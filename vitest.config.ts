import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The allocation tests count scavenges over millions of steps, which holds only if V8 inlines the
 * hot path; with compilation on a background thread, what it inlines depends on when a function's
 * optimised code lands, and a run now and then boxes a hash word per step. Compiling on the main
 * thread makes that the same in every run.
 */
const ALLOCATION = 'test/**/*-allocation.test.ts';
/** The addon's own tests, which the `dgram` pass (`npm run test:dgram`) leaves out. */
const WITHOUT_ADDON = process.env.UDP_BATCH_ADDON === 'off' ? ['test/ingest/udp-batch*'] : [];

export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Above the tests' own waits for a process or a count (30 s at most, one at a time), so that
    // on a loaded machine a wait that runs out fails with what it waited for, not a bare timeout.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests bind real sockets and start real peers; run files one core at a time each.
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ALLOCATION, ...WITHOUT_ADDON],
        },
      },
      {
        extends: true,
        test: { name: 'allocation', include: [ALLOCATION], execArgv: ['--no-concurrent-recompilation'] },
      },
    ],
  },
});
