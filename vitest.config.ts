import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Child processes (redis-server, nutcracker) are started per file; forks isolate them cleanly.
    pool: "forks",
    // Memory tests call gc() to measure what stays alive.
    execArgv: ["--expose-gc"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // An unhandled rejection or error anywhere fails the run.
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
