import { describe, expect, it } from "vitest";
import { reconnectDelay } from "../../lib/resilience/backoff.js";

describe("reconnectDelay", () => {
  const limits = { baseDelayMs: 50, maxDelayMs: 2000 };

  it("grows exponentially with jitter between half and all of the ceiling", () => {
    expect(reconnectDelay(1, limits, () => 0)).toBe(25);
    expect(reconnectDelay(1, limits, () => 1)).toBe(50);
    expect(reconnectDelay(3, limits, () => 0)).toBe(100);
    expect(reconnectDelay(3, limits, () => 1)).toBe(200);
  });

  it("is capped", () => {
    expect(reconnectDelay(50, limits, () => 1)).toBe(2000);
    expect(reconnectDelay(1e6, limits, () => 0)).toBe(1000);
  });
});
