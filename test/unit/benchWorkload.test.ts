/**
 * The bench's closed loop and preload (test/bench/workload.ts), on targets
 * in memory. A loop whose every step fails at once (CircuitOpenError) never
 * reached the event loop, so the breaker's probe (a timer) never ran and a
 * bench process finished its run with 0 commands; a preload that met a
 * loaded machine's timeouts failed the whole bench (docs/benchmarks.md,
 * "When a bench process completes 0 commands").
 */
import { describe, expect, it } from "vitest";
import { keyNames, preload, runWorkload, type Target } from "../bench/workload.js";

describe("bench closed loop", () => {
  it("lets timers run while every step fails at once, so a breaker's probe can close it", async () => {
    // The node comes back when a timer fires: as a breaker's half-open timer and its probe would let it.
    let healthy = false;
    const timer = setTimeout(() => (healthy = true), 10);
    const step = () => (healthy ? Promise.resolve("OK") : Promise.reject(new Error("circuit open")));
    const target: Target = { get: step, set: step };
    try {
      const result = await runWorkload(target, keyNames(10), { keys: 10, valueBytes: 1, inflight: 4, durationMs: 1000 });
      expect(result.ops).toBeGreaterThan(0);
    } finally {
      clearTimeout(timer);
    }
  });
});

describe("bench preload", () => {
  it("writes every key although some writes fail once (a deadline on a loaded machine)", async () => {
    const stored = new Map<string, string>();
    const failedOnce = new Set<string>();
    const target: Target = {
      get: async (k) => stored.get(k),
      set: async (k, v) => {
        if (Number(k.split(":").pop()) % 7 === 0 && !failedOnce.has(k)) {
          failedOnce.add(k);
          throw new Error("timed out");
        }
        stored.set(k, v);
      },
    };
    const keys = keyNames(2500);
    await preload(target, keys, "v", { pauseMs: 1 });
    expect(failedOnce.size).toBeGreaterThan(0);
    expect(stored.size).toBe(keys.length);
  });

  it("gives up after a bounded number of attempts, naming the failure", async () => {
    let calls = 0;
    const target: Target = {
      get: async () => undefined,
      set: async () => {
        calls++;
        throw new Error("node gone");
      },
    };
    await expect(preload(target, keyNames(10), "v", { attempts: 3, pauseMs: 1 })).rejects.toThrow(/node gone/);
    expect(calls).toBe(30);
  });
});
