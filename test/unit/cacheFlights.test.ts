/**
 * The cache's single flight (Flights: one load per key per process, whatever
 * path starts it) and its loader runs (runLoader: loadTimeoutMs), in fake
 * time with plain promises. Against real servers: test/integration/cacheFaults.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Flights } from "../../lib/cache/Flights.js";
import { entryKey } from "../../lib/cache/keys.js";
import { runLoader } from "../../lib/cache/runLoader.js";
import type { Found } from "../../lib/cache/types.js";
import { CacheLoadTimeoutError, CacheTimeoutError } from "../../lib/errors.js";
import { CacheMeter } from "../../lib/metrics/cacheMeter.js";
import { turn, useFakeTime } from "../support/fakeNode.js";

const WAIT_MS = 100;
const k = entryKey("ns:", "k");
const timedOut = () => new CacheTimeoutError("ns", "k", WAIT_MS, "test");

/** A load settled from the test. */
function deferred(): { promise: Promise<Found<string>>; resolve(value: string): void; reject(error: Error): void } {
  let resolve!: (found: Found<string>) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<Found<string>>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve: (value) => resolve({ value, result: "miss" }), reject };
}

/** Unhandled rejections seen while a test runs. */
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeEach(() => {
  useFakeTime();
  unhandled.length = 0;
  process.on("unhandledRejection", onUnhandled);
});
afterEach(async () => {
  // Rejections nobody handled are reported after the turn they happened in.
  await turn();
  vi.useRealTimers();
  await new Promise((resolve) => setImmediate(resolve));
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

describe("cache flights", () => {
  it("start one load per key: callers join it until it settles, then the next caller starts another", async () => {
    const flights = new Flights<string>(WAIT_MS, timedOut);
    const load = deferred();
    const start = vi.fn(() => load.promise);
    const callers = [flights.run(k, start), flights.run(k, start), flights.awaited(k)!];
    expect(start).toHaveBeenCalledTimes(1);
    expect(flights.awaitedLoads).toBe(1);
    load.resolve("v");
    expect(await Promise.all(callers)).toEqual(callers.map(() => ({ value: "v", result: "miss" })));
    expect(flights.awaitedLoads).toBe(0);
    const next = deferred();
    const again = flights.run(k, () => next.promise);
    next.resolve("w");
    expect((await again).value).toBe("w");
  });

  it("bound each caller's wait by waitTimeoutMs while the load goes on: a later caller joins it rather than loading again", async () => {
    const flights = new Flights<string>(WAIT_MS, timedOut);
    const load = deferred();
    const start = vi.fn(() => load.promise);
    const first = flights.run(k, start);
    await vi.advanceTimersByTimeAsync(WAIT_MS);
    await expect(first).rejects.toBeInstanceOf(CacheTimeoutError);
    const second = flights.run(k, start);
    await vi.advanceTimersByTimeAsync(WAIT_MS / 2);
    load.resolve("late but good");
    expect((await second).value).toBe("late but good");
    expect(start).toHaveBeenCalledTimes(1);
  });

  it("run a background refresh only when nothing loads the key, and make a caller wait for it before loading (never two at once)", async () => {
    const flights = new Flights<string>(WAIT_MS, timedOut);
    const refresh = deferred();
    flights.background(k, () => refresh.promise);
    const skipped = vi.fn(() => deferred().promise);
    flights.background(k, skipped);
    expect(skipped).not.toHaveBeenCalled();
    // Callers of a refreshed key read the value it refreshes: there is nothing to join, and the hit path looks nothing up.
    expect(flights.awaited(k)).toBeUndefined();
    expect(flights.awaitedLoads).toBe(0);
    const load = deferred();
    const start = vi.fn(() => load.promise);
    const missed = flights.run(k, start);
    await turn();
    expect(start).not.toHaveBeenCalled();
    refresh.resolve("refreshed");
    await turn();
    expect(start).toHaveBeenCalledTimes(1);
    // A refresh while that load runs is pointless: not started.
    flights.background(k, skipped);
    expect(skipped).not.toHaveBeenCalled();
    load.resolve("loaded");
    expect((await missed).value).toBe("loaded");
  });

  it("load many keys with one start, joining the keys already loading; each key is a flight of its own", async () => {
    const flights = new Flights<string>(WAIT_MS, timedOut);
    const [a, b, c] = ["a", "b", "c"].map((key) => entryKey("ns:", key)) as [ReturnType<typeof entryKey>, ReturnType<typeof entryKey>, ReturnType<typeof entryKey>];
    const loadingB = deferred();
    const justB = flights.run(b, () => loadingB.promise);
    const batch = { a: deferred(), c: deferred() };
    const startMany = vi.fn((free: readonly ReturnType<typeof entryKey>[]) => new Map(free.map((e) => [e.id, batch[e.display as "a" | "c"].promise])));
    const startOne = vi.fn(() => deferred().promise);
    const many = flights.runMany([a, b, c], startMany, startOne);
    expect(startMany).toHaveBeenCalledTimes(1);
    expect(startMany.mock.calls[0]![0].map((e) => e.display)).toEqual(["a", "c"]);
    expect(startOne).not.toHaveBeenCalled();
    // A caller of one key of the batch joins the batch.
    const joinedA = flights.awaited(a)!;
    batch.a.resolve("A");
    loadingB.resolve("B");
    batch.c.reject(new Error("no c"));
    expect((await many.get(a.id)!).value).toBe("A");
    expect((await many.get(b.id)!).value).toBe("B");
    expect((await justB).value).toBe("B");
    expect((await joinedA).value).toBe("A");
    await expect(many.get(c.id)!).rejects.toThrow("no c");
    expect(flights.awaitedLoads).toBe(0);
  });

  it("never leave a rejection unhandled: a refresh that fails, a load whose callers all gave up", async () => {
    const flights = new Flights<string>(WAIT_MS, timedOut);
    const refresh = deferred();
    flights.background(k, () => refresh.promise);
    refresh.reject(new Error("refresh failed"));
    await turn();
    const other = entryKey("ns:", "other");
    const load = deferred();
    const gaveUp = flights.run(other, () => load.promise).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(WAIT_MS);
    expect(await gaveUp).toBeInstanceOf(CacheTimeoutError);
    load.reject(new Error("nobody waits"));
    await turn();
    expect(flights.awaitedLoads).toBe(0);
  });
});

describe("cache loader runs", () => {
  const meter = () => new CacheMeter("ns", [0.1, 1]);

  it("count each loader call once by how it ended: ok, error (a throw, sync or not)", async () => {
    const m = meter();
    expect(await runLoader(async () => "v", k, "ns", 1000, m)).toMatchObject({ ok: true, value: "v" });
    expect(await runLoader(() => Promise.reject(new Error("no")), k, "ns", 1000, m)).toMatchObject({ ok: false, timedOut: false, error: { message: "no" } });
    expect(
      await runLoader(
        () => {
          throw new Error("sync");
        },
        k,
        "ns",
        1000,
        m,
      ),
    ).toMatchObject({ ok: false, error: { message: "sync" } });
    expect(m.loads).toEqual({ ok: 1, error: 2, timeout: 0 });
  });

  it("abandon a loader at loadTimeoutMs: CacheLoadTimeoutError, its signal aborted with it, its late value dropped and not counted", async () => {
    const m = meter();
    let signal!: AbortSignal;
    let finish!: (value: string) => void;
    const run = runLoader((s) => ((signal = s), new Promise<string>((resolve) => (finish = resolve))), k, "ns", 300, m);
    await vi.advanceTimersByTimeAsync(299);
    expect(signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const outcome = await run;
    expect(outcome).toMatchObject({ ok: false, timedOut: true });
    expect(!outcome.ok && outcome.error).toBeInstanceOf(CacheLoadTimeoutError);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(!outcome.ok && outcome.error);
    finish("late");
    await turn();
    expect(m.loads).toEqual({ ok: 0, error: 0, timeout: 1 });
  });
});
