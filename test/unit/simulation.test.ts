/**
 * The deterministic simulation (test/sim, docs/resilience.md): the whole
 * client on simulated Redis nodes in fake time, a seeded workload, faults at
 * random moments, invariants over everything that happened. This file and
 * simulation2.test.ts each run half of the 2,000 seeds of every CI run (two
 * files, so the two halves run in parallel), plus the seeds that once
 * found a bug.
 */
import { describe, expect, it } from "vitest";
import { expectSeedsPass, range } from "../sim/seeds.js";

describe("deterministic simulation: seeds 1-1000", () => {
  it("every call settles once, typed, in time, with a reply its key held; nothing leaks", async () => {
    const reports = await expectSeedsPass(range(1, 1000));
    // The run did run: calls, faults and every kind of fleet.
    expect(reports.reduce((n, r) => n + r.calls, 0)).toBeGreaterThan(30_000);
    expect(reports.reduce((n, r) => n + r.faults, 0)).toBeGreaterThan(1_000);
    expect(reports.some((r) => r.config.startsWith("cluster of"))).toBe(true);
    expect(reports.some((r) => r.config.includes("nearCache"))).toBe(true);
  }, 120_000);
});
