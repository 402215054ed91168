/**
 * ReadyWaiters: callers of ready() on one connection. Once the connection is
 * closed for good (the client closed it, or retryStrategy stopped it), a
 * waiter fails at once with that reason, now and later, until it is ready.
 */
import { describe, expect, it } from "vitest";
import { ReadyWaiters } from "../../lib/connection/readyWaiters.js";

const late = () => new Error("not ready in time");

describe("ReadyWaiters", () => {
  it("close() fails the waiters with its error, and every later waiter at once, until ready()", async () => {
    const waiters = new ReadyWaiters();
    const first = waiters.wait(60_000, late);
    const closed = new Error("Connection is closed.");
    waiters.close(closed);
    await expect(first).rejects.toBe(closed);
    await expect(waiters.wait(60_000, late)).rejects.toBe(closed);
    waiters.ready(); // reconnected (a connect() after the end): waiting works again
    const again = waiters.wait(60_000, late);
    waiters.ready();
    await expect(again).resolves.toBeUndefined();
  });

  it("fail() fails the waiters of now only; a waiter after it waits", async () => {
    const waiters = new ReadyWaiters();
    const first = waiters.wait(60_000, late);
    waiters.fail(new Error("refused"));
    await expect(first).rejects.toThrow("refused");
    const second = waiters.wait(60_000, late);
    waiters.ready();
    await expect(second).resolves.toBeUndefined();
  });
});
