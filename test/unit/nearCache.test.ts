/**
 * The near cache's rules, without Redis: placeholders against the
 * read/invalidation race, per-shard domains, generations, bounds, and
 * options.
 */
import { describe, expect, it } from "vitest";
import { NearCache } from "../../lib/nearcache/NearCache.js";
import { resolveOptions } from "../../lib/config/resolve.js";
import { ConfigError } from "../../lib/errors.js";

const limits = { maxEntries: 100, maxBytes: 1_000_000, ttlMs: 1000 };
/** One table for every test entry: their ids differ. */
const t = (cache: NearCache) => cache.table("test");

function tracked(shards = 2, now = () => 0): NearCache {
  const cache = new NearCache(limits, now);
  for (let i = 0; i < shards; i++) cache.track(i);
  return cache;
}

describe("NearCache", () => {
  it("serves a filled read, counts hits and misses", () => {
    const cache = tracked();
    expect(cache.lookup(t(cache), "k", "get|k")).toBeUndefined();
    cache.fill(cache.begin(0, t(cache), "k", "get|k")!, "v", 10);
    expect(cache.lookup(t(cache), "k", "get|k")).toBe("v");
    expect(cache.stats()[0]).toMatchObject({ hits: 1, misses: 1, entries: 1, bytes: 10, tracking: true });
  });

  it("refuses a reply whose key was invalidated, flushed or re-tracked after the read was sent (the race)", () => {
    const cache = tracked();
    const invalidated = cache.begin(0, t(cache), "k", "get|k")!;
    cache.invalidate(["k"]);
    cache.fill(invalidated, "old", 10);
    expect(cache.lookup(t(cache), "k", "get|k")).toBeUndefined();

    const flushed = cache.begin(0, t(cache), "k", "get|k")!;
    cache.flush(0, "connection");
    cache.track(0);
    cache.fill(flushed, "old", 10);
    expect(cache.lookup(t(cache), "k", "get|k")).toBeUndefined();

    const regenerated = cache.begin(0, t(cache), "k", "get|k")!;
    cache.track(0); // a new connection confirmed tracking: replies from the old one are not trusted
    cache.fill(regenerated, "old", 10);
    expect(cache.lookup(t(cache), "k", "get|k")).toBeUndefined();

    // A second read of the same entry replaces the first's placeholder: the first reply is not kept.
    const first = cache.begin(0, t(cache), "k", "get|k")!;
    const second = cache.begin(0, t(cache), "k", "get|k")!;
    cache.fill(first, "first", 10);
    expect(cache.lookup(t(cache), "k", "get|k")).toBeUndefined();
    cache.fill(second, "second", 10);
    expect(cache.lookup(t(cache), "k", "get|k")).toBe("second");
  });

  it("lets later reads share a read in flight, until the key changes", async () => {
    const cache = tracked();
    const reply = Promise.resolve("v");
    cache.begin(0, t(cache), "k", "k", reply);
    expect(cache.inflight(t(cache), "k", "k")).toBe(reply);
    cache.invalidate(["k"]);
    expect(cache.inflight(t(cache), "k", "k")).toBeUndefined();
    expect(cache.stats()[0]).toMatchObject({ misses: 2, joined: 1 });
    // A read in flight when its shard was flushed is not shared: its reply may come from the old connection or master.
    cache.begin(0, t(cache), "k", "k", reply);
    cache.flush(0, "failover", true);
    expect(cache.inflight(t(cache), "k", "k")).toBeUndefined();
  });


  it("probe answers as lookup, then inflight, in one lookup: the reply, the read in flight, or nothing", () => {
    let now = 0;
    const cache = tracked(1, () => now);
    const reply = Promise.resolve("v");
    expect(cache.probe(t(cache), "k", "k")).toBeUndefined();
    const ticket = cache.begin(0, t(cache), "k", "k", reply)!;
    expect(cache.probe(t(cache), "k", "k")).toBe(reply);
    cache.fill(ticket, "v", 10);
    expect(cache.probe(t(cache), "k", "k")).toBe("v");
    // A placeholder without a reply to share (an MGET's) is a miss, as for inflight().
    cache.begin(0, t(cache), "m", "m");
    expect(cache.probe(t(cache), "m", "m")).toBeUndefined();
    expect(cache.stats()[0]).toMatchObject({ hits: 1, misses: 3, joined: 1 });
    now = limits.ttlMs; // past ttlMs: not served, and gone
    expect(cache.probe(t(cache), "k", "k")).toBeUndefined();
    expect(cache.size).toBe(1);
    // A filled entry whose domain was flushed is not served either.
    cache.fill(cache.begin(0, t(cache), "k", "k")!, "w", 10);
    cache.flush(0, "server", true);
    expect(cache.probe(t(cache), "k", "k")).toBeUndefined();
  });

  it("a placeholder removed before its reply is neither filled nor abandoned twice", () => {
    const cache = tracked(1);
    const evicted = cache.begin(0, t(cache), "k", "k")!;
    cache.invalidate(["k"]);
    const next = cache.begin(0, t(cache), "k", "k")!;
    cache.abandon(evicted); // must not remove the newer placeholder of the same key
    cache.fill(evicted, "old", 10);
    expect([cache.size, cache.totalBytes, cache.stats()[0]!.entries]).toEqual([1, 0, 0]);
    cache.fill(next, "new", 10);
    expect(cache.lookup(t(cache), "k", "k")).toBe("new");
  });
  it("drops a changed key from every shard's domain (a read redirected over a cluster is filed under the shard it was routed to)", () => {
    const cache = tracked(2);
    cache.fill(cache.begin(0, t(cache), "moved", "get|moved")!, "old", 10);
    cache.invalidate(["moved"]);
    expect(cache.lookup(t(cache), "moved", "get|moved")).toBeUndefined();
  });

  it("invalidates every entry of a key (GET and HGET alike) and nothing else", () => {
    const cache = tracked();
    cache.fill(cache.begin(0, t(cache), "h", "hget|h|a")!, "1", 10);
    cache.fill(cache.begin(0, t(cache), "h", "hgetall|h")!, ["a", "1"], 10);
    cache.fill(cache.begin(0, t(cache), "other", "get|other")!, "x", 10);
    cache.invalidate(["h"]);
    expect(cache.lookup(t(cache), "h", "hget|h|a")).toBeUndefined();
    expect(cache.lookup(t(cache), "h", "hgetall|h")).toBeUndefined();
    expect(cache.lookup(t(cache), "other", "get|other")).toBe("x");
    expect(cache.stats()[0]!.invalidations).toBe(1);
  });

  it("flushes one shard's domain only; a domain without tracking neither serves nor fills", () => {
    const cache = tracked();
    cache.fill(cache.begin(0, t(cache), "a", "get|a")!, "A", 10);
    cache.fill(cache.begin(1, t(cache), "b", "get|b")!, "B", 10);
    cache.flush(0, "connection");
    expect(cache.lookup(t(cache), "a", "get|a")).toBeUndefined();
    expect(cache.lookup(t(cache), "b", "get|b")).toBe("B");
    expect(cache.begin(0, t(cache), "a", "get|a")).toBeUndefined();
    expect(cache.stats().map((s) => [s.tracking, s.flushes.connection])).toEqual([
      [false, 1],
      [true, 0],
    ]);
    expect(new NearCache(limits).begin(3, t(new NearCache(limits)), "k", "get|k")).toBeUndefined();
  });

  it("flushes in O(1): a flushed domain's counts drop at once, its entries are never served and are evicted before any live one", () => {
    const cache = new NearCache({ maxEntries: 4, maxBytes: 1_000_000, ttlMs: 1000 }, () => 0);
    cache.track(0);
    cache.track(1);
    for (const k of ["a", "b"]) cache.fill(cache.begin(0, t(cache), k, k)!, k, 10);
    for (const k of ["c", "d"]) cache.fill(cache.begin(1, t(cache), k, k)!, k, 10);
    for (const k of ["a", "b"]) cache.lookup(t(cache), k, k); // visited: a live entry would survive the hand's first pass
    cache.flush(0, "server", true);
    expect(cache.stats().map((s) => [s.entries, s.bytes])).toEqual([
      [0, 0],
      [2, 20],
    ]);
    expect(cache.lookup(t(cache), "a", "a")).toBeUndefined();
    cache.fill(cache.begin(1, t(cache), "e", "e")!, "e", 10);
    cache.fill(cache.begin(1, t(cache), "f", "f")!, "f", 10);
    expect(["c", "d", "e", "f"].map((k) => cache.lookup(t(cache), k, k))).toEqual(["c", "d", "e", "f"]);
    expect(cache.size).toBe(4);
    // Domain 0 caches again in its new generation.
    cache.fill(cache.begin(0, t(cache), "a", "a")!, "A", 10);
    expect(cache.lookup(t(cache), "a", "a")).toBe("A");
    expect(cache.stats()[0]).toMatchObject({ entries: 1, bytes: 10 });
  });

  it("keeps at most maxEntries and maxBytes, evicting by SIEVE (entries hit since the hand passed stay)", () => {
    const cache = new NearCache({ maxEntries: 3, maxBytes: 100, ttlMs: 1000 }, () => 0);
    cache.track(0);
    for (const k of ["a", "b", "c"]) cache.fill(cache.begin(0, t(cache), k, `get|${k}`)!, k, 10);
    expect(cache.lookup(t(cache), "a", "get|a")).toBe("a"); // a is visited: the hand passes it by
    cache.fill(cache.begin(0, t(cache), "d", "get|d")!, "d", 10);
    expect([cache.lookup(t(cache), "b", "get|b"), cache.lookup(t(cache), "a", "get|a"), cache.lookup(t(cache), "d", "get|d")]).toEqual([undefined, "a", "d"]);
    expect(cache.size).toBeLessThanOrEqual(3);
    cache.fill(cache.begin(0, t(cache), "big", "get|big")!, "big", 95);
    expect(cache.totalBytes).toBeLessThanOrEqual(100);
    expect(cache.lookup(t(cache), "big", "get|big")).toBe("big");
  });

  it("never serves an entry older than ttlMs", () => {
    let now = 0;
    const cache = tracked(1, () => now);
    cache.fill(cache.begin(0, t(cache), "k", "get|k")!, "v", 10);
    now = 999;
    expect(cache.lookup(t(cache), "k", "get|k")).toBe("v");
    now = 1000;
    expect(cache.lookup(t(cache), "k", "get|k")).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});

describe("nearCache options", () => {
  const shards = [{ name: "s0", master: "127.0.0.1:6379" }];
  const problems = (options: object): string[] => {
    try {
      resolveOptions({ shards, ...options });
    } catch (error) {
      if (error instanceof ConfigError) return [...error.problems];
      throw error;
    }
    return [];
  };

  it("is off by default, on with defaults, validated", () => {
    expect(resolveOptions({ shards }).nearCache).toBeUndefined();
    const on = resolveOptions({ shards, nearCache: {} }).nearCache!;
    expect([on.maxEntries, on.maxBytes, on.ttlMs, on.mode, [...on.commands]]).toEqual([
      10_000,
      64 * 1024 * 1024,
      60_000,
      "default",
      ["get", "mget", "hget", "hgetall", "exists", "strlen", "smembers"],
    ]);
    expect(problems({ nearCache: { maxEntries: 0, mode: "push", commands: ["set"], size: 1 } })).toEqual([
      "unknown option in nearCache 'size'",
      "nearCache.maxEntries must be an integer from 1 to 10000000 (got 0)",
      'nearCache.mode must be one of default, broadcast (got "push")',
      expect.stringMatching(/^nearCache.commands: "set" is not a cacheable read command/),
    ]);
    expect(problems({ nearCache: { prefixes: ["users:"] } })).toEqual([expect.stringMatching(/prefixes apply to mode "broadcast" only/)]);
    expect(problems({ nearCache: {}, redis: { protocol: 2 } })).toEqual(["nearCache needs RESP3 connections (Redis 6 or later): remove redis.protocol: 2"]);
    expect(on.hotOnly).toBe(false);
    expect(resolveOptions({ shards, nearCache: { hotOnly: true } }).nearCache!.hotOnly).toBe(true);
    expect(problems({ nearCache: { hotOnly: "yes" } })).toEqual(['nearCache.hotOnly must be true or false (got "yes")']);
    expect(problems({ nearCache: { hotOnly: true }, hotKeys: false })).toEqual([
      "nearCache.hotOnly needs the hot-key detector to rank keys: remove hotKeys: false",
    ]);
  });
});
