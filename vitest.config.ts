import { defineConfig } from "vitest/config";

/**
 * Four projects:
 *   unit         pure logic and fake connections in fake time; no servers (npm run test:unit)
 *   integration  real redis-server, redis-sentinel, nutcracker processes, and the compat suite (npm run test:integration)
 *   e2e          the demos and examples run end to end as programs (npm run test:e2e)
 *   timing       latency budgets, one file at a time so parallel load does not skew them (npm run test:timing)
 * npm test runs unit and integration; CI runs e2e, then timing alone, after them.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // An unhandled rejection or error anywhere fails the run.
    dangerouslyIgnoreUnhandledErrors: false,
    projects: [
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"], pool: "threads" } },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts", "test/compat/**/*.test.ts"],
          // Child processes (redis-server, nutcracker) are started per file; forks isolate them cleanly.
          pool: "forks",
          // Memory tests call gc() to measure what stays alive.
          execArgv: ["--expose-gc"],
        },
      },
      {
        extends: true,
        // The README's programs run end to end as a user runs them (the demos start and stop their own servers):
        // tens of seconds each, so CI runs them after npm test (npm run test:e2e), keeping npm test within its budget.
        test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], pool: "forks" },
      },
      {
        extends: true,
        test: { name: "timing", include: ["test/timing/**/*.test.ts"], pool: "forks", fileParallelism: false, execArgv: ["--expose-gc"] },
      },
    ],
  },
});
