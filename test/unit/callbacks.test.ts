/**
 * Node-style callbacks as ioredis calls them (standard-as-callback): with
 * (null, result) or (error), and what a callback throws is rethrown outside
 * the promise chain, on a timer of its own (an uncaught exception), never as
 * an unhandled rejection of a promise nobody holds.
 */
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { withCallback } from "../../lib/commands/install.js";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

it("rethrows what a callback given a result throws, outside the promise chain", async () => {
  const results: unknown[] = [];
  const ok = withCallback(Promise.resolve("OK"), (error, value) => {
    results.push([error, value]);
    throw new Error("bug in the caller's callback");
  });
  expect(await ok).toBe("OK");
  await Promise.resolve();
  expect(results).toEqual([[null, "OK"]]);
  expect(() => vi.runOnlyPendingTimers()).toThrow("bug in the caller's callback");
});

it("rethrows what a callback given an error throws, outside the promise chain", async () => {
  const failed = withCallback(Promise.reject(new Error("WRONGTYPE")), () => {
    throw new Error("thrown by the callback");
  });
  await failed.catch(() => undefined);
  await Promise.resolve();
  expect(() => vi.runOnlyPendingTimers()).toThrow("thrown by the callback");
});
