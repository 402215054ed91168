/**
 * client.cache() under loader and node failures, against real redis-servers:
 * no cache method turns a failure into an unhandled rejection, a loader
 * that never settles gives its lock up at loadTimeoutMs so another process
 * loads, and a key has one load at a time in a process whatever the path
 * (miss, direct load while its node is down, refresh, getOrSetMany).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CacheLoadTimeoutError, CircuitOpenError, NodeError, type ShardedClient, type ShardisEvents } from "../../lib/index.js";
import { fleetWithClient, startFleet, watchUnhandled, type Fleet } from "../support/fleet.js";
import { eventually, READY_MS } from "../support/keys.js";

type CacheErrorEvent = ShardisEvents["cache:error"][0];

let namespaces = 0;
const ns = (name: string) => `${name}${++namespaces}`;
/** A few event-loop turns: long enough for a rejection nobody handles to be reported. */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** A loader held at a gate, counting its calls and how many run at once. */
function gatedLoader<V>(value: V) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const state = { calls: 0, running: 0, maxRunning: 0, release };
  const load = async (): Promise<V> => {
    state.calls++;
    state.maxRunning = Math.max(state.maxRunning, ++state.running);
    try {
      await gate;
      return value;
    } finally {
      state.running--;
    }
  };
  return { state, load };
}

describe("client.cache() when the loader fails", () => {
  const context = fleetWithClient(3);

  it("getOrSetMany whose loader throws: the caller gets its error, no other key's promise rejects unhandled, the next call loads again", async () => {
    const unhandled = watchUnhandled();
    const events: CacheErrorEvent[] = [];
    const onEvent = (e: CacheErrorEvent) => events.push(e);
    context.client.on("cache:error", onEvent);
    try {
      const cache = context.client.cache<string>({ namespace: ns("manyfail"), ttlMs: 60_000, staleMs: 60_000 });
      const keys = ["a", "b", "c", "d", "e", "f"];
      let calls = 0;
      const failing = async () => {
        calls++;
        throw new Error("database down");
      };
      await expect(cache.getOrSetMany(keys, failing)).rejects.toThrow("database down");
      expect(calls).toBe(1);
      // A getOrSet that joins the failing batch while it loads gets its error too.
      let fail!: () => void;
      const gate = new Promise<void>((resolve) => (fail = resolve));
      let started = 0;
      const batch = cache.getOrSetMany(keys, async () => (started++, await gate, failing()));
      await eventually(async () => expect(started).toBe(1));
      const joined = cache.getOrSet("c", async () => "single");
      fail();
      await expect(batch).rejects.toThrow("database down");
      await expect(joined).rejects.toThrow("database down");
      expect(calls).toBe(2);
      await turns();
      expect(unhandled.errors).toEqual([]);
      expect(await cache.getOrSetMany(keys, async (missing) => missing.map((k) => `v${k}`))).toEqual(keys.map((k) => `v${k}`));
      // A stale key is served and refreshed in the background: its loader failing is reported, not thrown.
      await cache.set("s", "old", { ttlMs: 50 });
      await eventually(async () => expect(await cache.get("s")).toBeUndefined());
      expect(await cache.getOrSetMany(["s"], failing)).toEqual(["old"]);
      await eventually(async () => expect(events.filter((e) => e.namespace === cache.namespace).map((e) => e.served)).toContain("stale"));
      await turns();
      expect(unhandled.errors).toEqual([]);
    } finally {
      context.client.off("cache:error", onEvent);
      unhandled.stop();
    }
  });

  it("getOrSetMany whose loader returns neither an array nor a Map: a TypeError, the locks given up", async () => {
    const unhandled = watchUnhandled();
    try {
      const cache = context.client.cache<string>({ namespace: ns("manyshape"), ttlMs: 60_000, lockTtlMs: 60_000 });
      await expect(cache.getOrSetMany(["a", "b"], async () => "nonsense" as never)).rejects.toBeInstanceOf(TypeError);
      // Its locks were released (not left to lapse after a minute): the next call loads at once.
      expect(await cache.getOrSetMany(["a", "b"], async () => ["1", "2"])).toEqual(["1", "2"]);
      await turns();
      expect(unhandled.errors).toEqual([]);
    } finally {
      unhandled.stop();
    }
  });

  it("a loader that never settles loses its lock at loadTimeoutMs: its caller gets CacheLoadTimeoutError, its signal aborts, another process loads, its late value is not written", async () => {
    const namespace = ns("stuck");
    const a = context.fleet.client();
    const b = context.fleet.client();
    const stuck = a.cache<string>({ namespace, ttlMs: 60_000, lockTtlMs: 200, waitTimeoutMs: 10_000, loadTimeoutMs: 300 });
    const other = b.cache<string>({ namespace, ttlMs: 60_000, lockTtlMs: 200, waitTimeoutMs: 10_000 });
    let signal: AbortSignal | undefined;
    let finishLate!: (value: string) => void;
    let started!: () => void;
    const loading = new Promise<void>((resolve) => (started = resolve));
    // Ignores its signal: only loadTimeoutMs ends its hold on the key.
    const first = stuck
      .getOrSet("k", (context) => {
        signal = context.signal;
        started();
        return new Promise<string>((resolve) => (finishLate = resolve));
      })
      .catch((error: unknown) => error);
    await loading;
    const fromB = other.getOrSet("k", async () => "from B");
    expect(await first).toBeInstanceOf(CacheLoadTimeoutError);
    expect((await first as CacheLoadTimeoutError).message).toMatch(/loadTimeoutMs \(300 ms\)/);
    expect(signal!.aborted).toBe(true);
    expect(await fromB).toBe("from B");
    expect(b.stats().caches[0]!.lockWaits).toBe(1);
    expect(a.stats().caches[0]!.loads.timeout).toBe(1);
    // The stuck loader answers at last: its value is dropped, B's stays.
    finishLate("late from A");
    await turns();
    expect(await other.get("k")).toBe("from B");
    // A loads again on its next miss (the timed-out load no longer holds the key in A either).
    expect(await stuck.getOrSet("k2", async () => "fresh")).toBe("fresh");
  });

  it("a caller that stopped waiting (waitTimeoutMs) leaves the load running, its signal not aborted: the next caller joins it, without polling its own lock", async () => {
    const client = context.fleet.client();
    const cache = client.cache<string>({ namespace: ns("joinlate"), ttlMs: 60_000, waitTimeoutMs: 100 });
    const { state, load } = gatedLoader("slow value");
    let signal!: AbortSignal;
    await expect(cache.getOrSet("k", (context) => ((signal = context.signal), load()))).rejects.toThrow(/within 100 ms/);
    expect(signal.aborted).toBe(false);
    const second = cache.getOrSet("k", load);
    await turns();
    state.release();
    expect(await second).toBe("slow value");
    expect(state.calls).toBe(1);
    expect(client.stats().caches[0]!.lockWaits).toBe(0);
  });

  it("a miss while this process refreshes the key waits for that refresh instead of running a second load", async () => {
    const client = context.client;
    const cache = client.cache<string>({ namespace: ns("refreshmiss"), ttlMs: 50, staleMs: 60_000, earlyRefresh: false });
    await cache.set("k", "old");
    await eventually(async () => expect(await cache.get("k")).toBeUndefined());
    const { state, load } = gatedLoader("new");
    expect(await cache.getOrSet("k", load)).toBe("old"); // served stale, refresh started
    await eventually(async () => expect(state.calls).toBe(1));
    // The entry disappears while the refresh runs (an eviction, a DEL): the next caller misses.
    await client.del(`${cache.namespace}:k`);
    const gets = () => client.stats().shards.reduce((n, s) => n + (s.byCommand.get?.master?.outcomes.ok ?? 0), 0);
    const before = gets();
    const missed = cache.getOrSet("k", load);
    await eventually(async () => expect(gets()).toBe(before + 1));
    // Behind whatever that miss made this process send on the key's connection (a lock's acquire): answered too.
    await client.exists(`${cache.namespace}:k`);
    state.release();
    expect(await missed).toBe("new");
    expect(state.maxRunning).toBe(1);
  });
});

describe("client.cache() while a node is down", () => {
  let fleet: Fleet;
  let client: ShardedClient;
  const unhandled = watchUnhandled();
  const events: CacheErrorEvent[] = [];

  beforeAll(async () => {
    fleet = await startFleet(2);
    client = fleet.client({ commandTimeoutMs: 200 });
    await client.ready(READY_MS);
    client.on("cache:error", (e) => events.push(e));
    await fleet.servers[1]!.halt();
    // Until s1's breaker is open its commands fail at once, without waiting for a deadline.
    await eventually(async () => expect(await client.get(keyOnS1("probe")).catch((e: unknown) => e)).toBeInstanceOf(CircuitOpenError));
  });
  afterAll(async () => {
    unhandled.stop();
    await fleet?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  /** The first key `${prefix}<i>` stored on s1 (as `${namespace}:${key}` when namespace is given). */
  function keyOnS1(prefix: string, namespace?: string): string {
    for (let i = 0; ; i++) if (client.shardOf(namespace ? `${namespace}:${prefix}${i}` : `${prefix}${i}`) === "s1") return `${prefix}${i}`;
  }

  it("calls the loader once for callers spread over many event-loop turns while it runs", async () => {
    const cache = client.cache<string>({ namespace: ns("downturns"), ttlMs: 60_000 });
    const key = keyOnS1("k", cache.namespace);
    const { state, load } = gatedLoader("from the database");
    const calls = [cache.getOrSet(key, load)];
    await eventually(async () => expect(state.calls).toBe(1));
    for (let turn = 0; turn < 20; turn++) {
      await turns(1);
      calls.push(cache.getOrSet(key, load));
    }
    await turns();
    state.release();
    expect(await Promise.all(calls)).toEqual(calls.map(() => "from the database"));
    expect(state.calls).toBe(1);
    expect(events.filter((e) => e.namespace === cache.namespace && e.served === "loader")).toHaveLength(1);
    // A loader that throws meanwhile: every caller gets its error, nothing unhandled (the file checks).
    const failing = async () => Promise.reject(new Error("database down too"));
    const outcomes = await Promise.allSettled([cache.getOrSet(key, failing), cache.getOrSet(key, failing)]);
    expect(outcomes.map((o) => o.status === "rejected" && (o.reason as Error).message)).toEqual(["database down too", "database down too"]);
    // Never loading, get, set and delete reject with the node's typed error.
    await expect(cache.get(key)).rejects.toBeInstanceOf(NodeError);
    await expect(cache.set(key, "v")).rejects.toBeInstanceOf(NodeError);
    await expect(cache.delete(key)).rejects.toBeInstanceOf(NodeError);
  });

  it("getOrSetMany of keys on the down node: one loader call for them all, and its failure reaches the caller alone", async () => {
    const cache = client.cache<string>({ namespace: ns("downmany"), ttlMs: 60_000 });
    const keys = Array.from({ length: 6 }, (_, i) => keyOnS1(`m${i}-`, cache.namespace));
    const calls: string[][] = [];
    expect(await cache.getOrSetMany(keys, async (missing) => (calls.push(missing), missing.map((k) => `db ${k}`)))).toEqual(keys.map((k) => `db ${k}`));
    expect(calls).toEqual([keys]);
    await expect(cache.getOrSetMany(keys, async () => Promise.reject(new Error("database down")))).rejects.toThrow("database down");
    await turns();
  });
});
