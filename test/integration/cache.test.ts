/**
 * client.cache() against three real redis-servers, in one process: single
 * flight, stale-while-revalidate, stale-if-error, errors not cached,
 * negative caching, fencing, jitter, early refresh, getOrSetMany's one MGET
 * per shard and one loader call, corrupt entries, Buffers, a node down, bad
 * input, and the metrics. Several processes: cacheProcesses.test.ts.
 */
import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import {
  CacheArgumentError,
  CacheSerializationError,
  CacheTimeoutError,
  ConfigError,
  NodeError,
  ShardedClient,
  type ShardisEvents,
} from "../../lib/index.js";
import { fleetWithClient, startFleet } from "../support/fleet.js";
import { eventually, READY_MS } from "../support/keys.js";
import { series, total } from "../support/metrics.js";

type CacheErrorEvent = ShardisEvents["cache:error"][0];

let namespaces = 0;
/** A fresh namespace per test: tests share the fleet, not their keys or meters. */
const ns = (name: string) => `${name}${++namespaces}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("client.cache()", () => {
  const context = fleetWithClient(3);
  const gets = (c: ShardedClient, command = "get") => c.stats().shards.reduce((n, s) => n + (s.byCommand[command]?.master?.outcomes.ok ?? 0), 0);

  it("runs the loader once for many concurrent callers, who share one promise and send nothing extra", async () => {
    const client = context.fleet.client();
    const users = client.cache<{ id: number }>({ namespace: ns("single"), ttlMs: 60_000 });
    let loads = 0;
    const values = await Promise.all(Array.from({ length: 500 }, () => users.getOrSet("42", async () => (loads++, await sleep(50), { id: 42 }))));
    expect(loads).toBe(1);
    expect(values.every((v) => v?.id === 42)).toBe(true);
    // One GET, one lock taken (EVALSHA, or EVAL on first use), one fenced write.
    expect(gets(client)).toBe(1);
    expect(gets(client, "evalsha") + gets(client, "eval")).toBe(2);
    // The next call is a hit: one GET, no loader.
    expect(await users.getOrSet("42", async () => (loads++, { id: 0 }))).toEqual({ id: 42 });
    expect([loads, gets(client)]).toEqual([1, 2]);
    const stats = client.stats().caches[0]!;
    expect(stats.requests).toEqual({ hit: 1, miss: 500, stale: 0, negative: 0 });
    expect(stats.loads).toEqual({ ok: 1, error: 0, timeout: 0 });
  });

  it("serves a stale value at once to every caller while exactly one refresh runs, then the new value", async () => {
    const client = context.client;
    const cache = client.cache<string>({ namespace: ns("swr"), ttlMs: 100, staleMs: 10_000, earlyRefresh: false });
    await cache.set("k", "old");
    await eventually(async () => expect(await cache.get("k")).toBeUndefined()); // past ttlMs
    expect(await cache.get("k", { allowStale: true })).toBe("old");
    let loads = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 1000 }, () => cache.getOrSet("k", async ({ stale }) => (loads++, await gate, `new (was ${stale})`))),
    );
    // Every caller answered while the loader was still held at the gate (or not yet started: the refresh takes the lock first).
    expect(answers.every((a) => a === "old")).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
    await eventually(async () => expect(loads).toBe(1));
    release();
    await eventually(async () => expect(await cache.get("k")).toBe("new (was old)"));
    expect(loads).toBe(1);
  });

  it("serves the stale value when the refresh fails, and reports it (event and metric)", async () => {
    const client = context.fleet.client();
    const events: CacheErrorEvent[] = [];
    client.on("cache:error", (e) => events.push(e));
    const cache = client.cache<string>({ namespace: ns("sie"), ttlMs: 50, staleMs: 10_000, earlyRefresh: false });
    await cache.set("k", "old");
    await eventually(async () => expect(await cache.get("k")).toBeUndefined());
    expect(await cache.getOrSet("k", async () => Promise.reject(new Error("database down")))).toBe("old");
    await eventually(async () => expect(events).toHaveLength(1));
    expect(events[0]).toMatchObject({ key: "k", served: "stale", error: expect.objectContaining({ message: "database down" }) });
    expect(client.stats().caches[0]!.loads.error).toBe(1);
    // The lock was given up with the value kept: stale reads go on refreshing until one succeeds.
    // (Its value kept a minute: with the cache's 50 ms, a get() on a busy machine would find it expired already.)
    await eventually(async () => {
      expect(["old", "fixed"]).toContain(await cache.getOrSet("k", async () => "fixed", { ttlMs: 60_000 }));
      expect(await cache.get("k")).toBe("fixed");
    });
  });

  it("gives every waiter the loader's error, caches nothing, and loads again on the next call", async () => {
    const cache = context.client.cache<string>({ namespace: ns("err"), ttlMs: 60_000 });
    let loads = 0;
    const failing = async () => {
      loads++;
      await sleep(20);
      throw new Error("no such row");
    };
    const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => cache.getOrSet("k", failing)));
    expect(outcomes.every((o) => o.status === "rejected" && (o.reason as Error).message === "no such row")).toBe(true);
    expect(loads).toBe(1);
    expect(await cache.getOrSet("k", async () => (loads++, "found"))).toBe("found");
    expect(loads).toBe(2);
  });

  it("caches not-found for negativeTtlMs, and not at all without it", async () => {
    const negative = context.client.cache<string>({ namespace: ns("neg"), ttlMs: 60_000, negativeTtlMs: 5000 });
    let loads = 0;
    const nothing = async () => (loads++, undefined);
    expect(await negative.getOrSet("ghost", nothing)).toBeUndefined();
    expect(await negative.getOrSet("ghost", nothing)).toBeUndefined();
    expect(loads).toBe(1);
    const plain = context.client.cache<string>({ namespace: ns("noneg"), ttlMs: 60_000 });
    await plain.getOrSet("ghost", nothing);
    await plain.getOrSet("ghost", nothing);
    expect(loads).toBe(3);
    const stats = context.client.stats().caches.find((c) => c.namespace === negative.namespace)!;
    expect(stats.requests.negative).toBe(1);
  });

  it("refuses a late write from a holder that lost its lock (fencing), and counts it", async () => {
    const client = context.fleet.client();
    const cache = client.cache<string>({ namespace: ns("fence"), ttlMs: 60_000 });
    let loading!: () => void;
    const started = new Promise<void>((resolve) => (loading = resolve));
    const slow = cache.getOrSet("k", async () => (loading(), await sleep(100), "late"));
    await started;
    // Someone replaces the entry while the loader runs: the lock goes with it.
    await cache.set("k", "newer");
    expect(await slow).toBe("late"); // its callers still get what the loader returned
    expect(await cache.get("k")).toBe("newer");
    expect(client.stats().caches[0]!.refusedWrites).toBe(1);
  });

  it("spreads expiries with jitter", async () => {
    const cache = context.client.cache<number>({ namespace: ns("jitter"), ttlMs: 100_000, jitter: 0.1 });
    const keys = Array.from({ length: 200 }, (_, i) => `j${i}`);
    await Promise.all(keys.map((k, i) => cache.getOrSet(k, async () => i)));
    const ttls = await Promise.all(keys.map((k) => context.client.pttl(`${cache.namespace}:${k}`)));
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(89_000);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(110_000);
    // 200 draws over ±10%: their spread covers most of it (a fixed TTL would give a spread of a few ms).
    expect(Math.max(...ttls) - Math.min(...ttls)).toBeGreaterThan(10_000);
  });

  it("refreshes before expiry (XFetch) when the last load was slow, without callers waiting", async () => {
    const client = context.fleet.client();
    // 2 s of freshness: room for the refresh to finish well before expiry even on a loaded machine.
    const cache = client.cache<number>({ namespace: ns("xfetch"), ttlMs: 2000, jitter: 0, earlyRefresh: { beta: 2 } });
    let loads = 0;
    // The first load takes 150 ms (what XFetch weighs); a refresh is held at a gate until the test opens it.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const loader = async () => {
      const n = ++loads;
      await (n === 1 ? sleep(150) : gate);
      return n;
    };
    expect(await cache.getOrSet("k", loader)).toBe(1);
    // Read it until a refresh has started: with a 150 ms load and beta 2, one starts well before the 2 s expiry.
    await eventually(async () => {
      expect(await cache.getOrSet("k", loader)).toBe(1);
      expect(loads).toBeGreaterThanOrEqual(2);
    }, 3000);
    // The refresh is still held: callers are answered with the value there (one waiting for the refresh would not be).
    for (let i = 0; i < 3; i++) expect(await cache.getOrSet("k", loader)).toBe(1);
    open();
    await eventually(async () => expect(await cache.getOrSet("k", loader)).toBeGreaterThanOrEqual(2));
    expect(client.stats().caches[0]!.earlyRefreshes).toBeGreaterThanOrEqual(1);
    expect(client.stats().caches[0]!.requests.miss).toBe(1); // nobody waited for a load after the first
  });

  it("getOrSetMany: one MGET per shard, one loader call for the misses, values in the keys' order", async () => {
    const client = context.fleet.client();
    const cache = client.cache<string>({ namespace: ns("many"), ttlMs: 60_000 });
    const keys = Array.from({ length: 30 }, (_, i) => `m${i}`);
    await cache.set("m3", "cached");
    const calls: string[][] = [];
    const values = await cache.getOrSetMany(keys, async (missing) => (calls.push(missing), missing.map((k) => `loaded ${k}`)));
    expect(values).toEqual(keys.map((k) => (k === "m3" ? "cached" : `loaded ${k}`)));
    expect(calls).toEqual([keys.filter((k) => k !== "m3")]);
    const mgets = client.stats().shards.map((s) => s.byCommand.mget?.master?.outcomes.ok ?? 0);
    expect(mgets).toEqual([1, 1, 1]);
    // All cached now: no loader call, a Map works as the loader's answer too.
    expect(await cache.getOrSetMany(["m1", "m2"], async () => new Map())).toEqual(["loaded m1", "loaded m2"]);
    expect(calls).toHaveLength(1);
  });

  it("treats a corrupt entry as a miss, overwrites it, and counts it", async () => {
    const client = context.fleet.client();
    const cache = client.cache<string>({ namespace: ns("corrupt"), ttlMs: 60_000 });
    await client.set(`${cache.namespace}:garbage`, "not a cache entry");
    await client.set(`${cache.namespace}:badjson`, "SC1|j|99999999999999|99999999999999|1||0\n{oops");
    expect(await cache.getOrSet("garbage", async () => "clean")).toBe("clean");
    expect(await cache.getOrSet("badjson", async () => "clean too")).toBe("clean too");
    expect(await cache.get("garbage")).toBe("clean");
    expect(await cache.get("badjson")).toBe("clean too");
    expect(client.stats().caches[0]!.corruptEntries).toBe(2);
  });

  it("passes Buffers through untouched, with Buffer keys", async () => {
    const cache = context.client.cache<Buffer>({ namespace: ns("bytes"), ttlMs: 60_000 });
    const bytes = Buffer.from([0, 1, 10, 13, 124, 255]);
    const key = Buffer.from([0xde, 0xad]);
    expect(await cache.getOrSet(key, async () => bytes)).toEqual(bytes);
    expect(await cache.get(key)).toEqual(bytes);
  });

  it("stores strings as their text (no JSON to parse on a hit), and a cache with a serializer reads them as corrupt", async () => {
    const client = context.fleet.client();
    const namespace = ns("text");
    const cache = client.cache<string>({ namespace, ttlMs: 60_000 });
    const text = '"quoted" é 𝄞 {not json';
    expect(await cache.getOrSet("t", async () => text)).toBe(text);
    expect(await cache.getOrSet("t", async () => "loaded again")).toBe(text);
    const stored = (await client.getBuffer(`${namespace}:t`))!;
    expect(stored.toString("utf8")).toMatch(/^SC1\|s\|/);
    expect(stored.subarray(stored.indexOf(10) + 1).toString("utf8")).toBe(text);
    // The same namespace through a serializer: not its format, so a miss that is loaded and overwritten.
    const other = client.cache<string>({ namespace, ttlMs: 60_000, serializer: { encode: (v) => `<${v}>`, decode: (b) => b.toString().slice(1, -1) } });
    expect(await other.getOrSet("t", async () => "reloaded")).toBe("reloaded");
    expect(client.stats().caches.find((c) => c.namespace === namespace && c.corruptEntries > 0)).toBeDefined();
  });

  it("refuses bad input with typed errors, and writes nothing for a value it cannot encode", async () => {
    expect(() => context.client.cache({ namespace: "x", ttlMs: 0 })).toThrow(ConfigError);
    const cache = context.client.cache<unknown>({ namespace: ns("bad"), ttlMs: 60_000 });
    await expect(cache.getOrSet(42 as never, async () => 1)).rejects.toBeInstanceOf(CacheArgumentError);
    await expect(cache.getOrSet("k", "not a function" as never)).rejects.toBeInstanceOf(CacheArgumentError);
    await expect(cache.set("k", 1, { ttlMs: -5 })).rejects.toThrow(/ttlMs must be an integer/);
    await expect(cache.getOrSet("k", async () => 10n)).rejects.toBeInstanceOf(CacheSerializationError);
    // The lock was given up: the next call loads at once instead of waiting for it.
    const started = performance.now();
    expect(await cache.getOrSet("k", async () => "fine")).toBe("fine");
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("answers a caller with CacheTimeoutError at waitTimeoutMs, and abandons a loader that never settles at loadTimeoutMs, aborting its signal", async () => {
    const cache = context.client.cache<string>({ namespace: ns("hang"), ttlMs: 60_000, waitTimeoutMs: 150, loadTimeoutMs: 400 });
    let aborted = false;
    const started = performance.now();
    const outcome = cache.getOrSet("k", ({ signal }) => new Promise<string>(() => signal.addEventListener("abort", () => (aborted = true))));
    await expect(outcome).rejects.toBeInstanceOf(CacheTimeoutError);
    expect(performance.now() - started).toBeLessThan(1000);
    // The caller stopped waiting, the load did not: its signal aborts at loadTimeoutMs.
    await eventually(async () => expect(aborted).toBe(true));
    expect(context.client.stats().caches.find((c) => c.namespace === cache.namespace)!.loads.timeout).toBe(1);
  });

  it("exports its metrics per namespace", async () => {
    const registry = new Registry();
    const client = context.fleet.client({ metrics: { registry, serverStatsIntervalMs: 0 } });
    const cache = client.cache<string>({ namespace: ns("metrics"), ttlMs: 60_000 });
    await cache.getOrSet("a", async () => "1");
    await cache.getOrSet("a", async () => "1");
    const all = await series(registry);
    const namespace = cache.namespace;
    expect(total(all, "shardis_cache_requests_total", { namespace, result: "hit" })).toBe(1);
    expect(total(all, "shardis_cache_requests_total", { namespace, result: "miss" })).toBe(1);
    expect(total(all, "shardis_cache_loads_total", { namespace, outcome: "ok" })).toBe(1);
    expect(total(all, "shardis_cache_load_duration_seconds_count", { namespace })).toBe(1);
    for (const name of ["lock_waits_total", "early_refreshes_total", "corrupt_entries_total", "refused_writes_total"]) {
      expect(all.some((s) => s.name === `shardis_cache_${name}` && s.labels.namespace === namespace), name).toBe(true);
    }
  });
});

describe("client.cache() with a node down", () => {
  it("calls the loader directly when the key's node is down, and get() rejects with the node's typed error", async () => {
    const fleet = await startFleet(3);
    try {
      const client = fleet.client({ commandTimeoutMs: 200 });
      await client.ready(READY_MS);
      const events: CacheErrorEvent[] = [];
      client.on("cache:error", (e) => events.push(e));
      const cache = client.cache<string>({ namespace: "down", ttlMs: 60_000 });
      // A key whose stored form, "down:<key>", lives on s1.
      let k = 0;
      while (client.shardOf(`down:k${k}`) !== "s1") k++;
      await fleet.servers[1]!.halt();
      let loads = 0;
      const answers = await Promise.all(Array.from({ length: 20 }, () => cache.getOrSet(`k${k}`, async () => (loads++, "from the database"))));
      expect(answers.every((a) => a === "from the database")).toBe(true);
      expect(loads).toBe(1); // in-process single flight still holds
      expect(events[0]).toMatchObject({ served: "loader" });
      await expect(cache.get(`k${k}`)).rejects.toBeInstanceOf(NodeError);
    } finally {
      await fleet.stop();
    }
  });
});
