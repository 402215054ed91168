import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { NodeBreaker, type BreakerState, type ResolvedBreakerOptions } from "../../lib/resilience/breaker.js";
import { RollingCounts } from "../../lib/resilience/rollingCounts.js";

describe("RollingCounts", () => {
  it("sums over the window and forgets buckets that slid out", () => {
    let now = 0;
    const counts = new RollingCounts(1000, 10, () => now);
    counts.add(5, 1);
    now = 450;
    counts.add(3, 2);
    expect(counts.totals()).toEqual({ successes: 8, failures: 3 });
    now = 1050; // the first bucket (0-100 ms) has left the window
    expect(counts.totals()).toEqual({ successes: 3, failures: 2 });
    now = 5000;
    expect(counts.totals()).toEqual({ successes: 0, failures: 0 });
  });
});

describe("NodeBreaker", () => {
  const options: ResolvedBreakerOptions = {
    enabled: true,
    errorThresholdPercentage: 50,
    volumeThreshold: 20,
    windowMs: 1000,
    resetTimeoutMs: 1000,
    stallMs: 500,
  };
  let states: BreakerState[];
  let probe: ReturnType<typeof vi.fn>;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date", "performance"] });
    states = [];
    probe = vi.fn(async () => "PONG");
  });
  afterEach(() => vi.useRealTimers());

  const make = (overrides: Partial<ResolvedBreakerOptions> = {}) =>
    new NodeBreaker({ ...options, ...overrides }, probe as () => Promise<unknown>, (s) => states.push(s));

  it("stays closed below the volume threshold, whatever the failure rate", () => {
    const breaker = make();
    breaker.record(0, 19);
    expect(breaker.state).toBe("closed");
    expect(breaker.admits).toBe(true);
  });

  it("opens when more than the threshold percentage of the window failed", () => {
    const breaker = make();
    breaker.record(50, 0);
    breaker.record(0, 50);
    expect(breaker.state).toBe("closed"); // exactly 50%: not more
    breaker.record(0, 1);
    expect(breaker.state).toBe("open");
    expect(breaker.admits).toBe(false);
    expect(breaker.reason).toBe("50% of 101 commands failed");
    expect(states).toEqual(["open"]);
  });

  it("probes after resetTimeout and closes when the probe succeeds", async () => {
    const breaker = make();
    breaker.trip("no reply for 600 ms");
    expect(breaker.retryInMs).toBe(1000);
    await vi.advanceTimersByTimeAsync(999);
    expect(probe).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(probe).toHaveBeenCalledTimes(1);
    expect(states).toEqual(["open", "halfOpen", "closed"]);
    expect(breaker.admits).toBe(true);
  });

  it("opens again when the probe fails, and probes again after another resetTimeout", async () => {
    probe.mockRejectedValueOnce(new Error("still down"));
    const breaker = make();
    breaker.trip("gone");
    await vi.advanceTimersByTimeAsync(1000);
    expect(states).toEqual(["open", "halfOpen", "open"]);
    expect(breaker.admits).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(states).toEqual(["open", "halfOpen", "open", "halfOpen", "closed"]);
    breaker.shutdown();
  });

  it("does nothing when disabled", () => {
    const breaker = make({ enabled: false });
    breaker.record(0, 1000);
    breaker.trip("ignored");
    expect(breaker.admits).toBe(true);
    expect(states).toEqual([]);
  });
});
