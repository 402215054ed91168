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
    expect(cache.lookup(t(cache), "get|k")).toBeUndefined();
    cache.fill(cache.begin(0, t(cache), "k", "get|k")!, "v", 10);
    expect(cache.lookup(t(cache), "get|k")).toBe("v");
    expect(cache.stats()[0]).toMatchObject({ hits: 1, misses: 1, entries: 1, bytes: 10, tracking: true });
  });

  it("refuses a reply whose key was invalidated, flushed or re-tracked after the read was sent (the race)", () => {
    const cache = tracked();
    const invalidated = cache.begin(0, t(cache), "k", "get|k")!;
    cache.invalidate(["k"]);
    cache.fill(invalidated, "old", 10);
    expect(cache.lookup(t(cache), "get|k")).toBeUndefined();

    const flushed = cache.begin(0, t(cache), "k", "get|k")!;
    cache.flush(0, "connection");
    cache.track(0);
    cache.fill(flushed, "old", 10);
    expect(cache.lookup(t(cache), "get|k")).toBeUndefined();

    const regenerated = cache.begin(0, t(cache), "k", "get|k")!;
    cache.track(0); // a new connection confirmed tracking: replies from the old one are not trusted
    cache.fill(regenerated, "old", 10);
    expect(cache.lookup(t(cache), "get|k")).toBeUndefined();

    // A second read of the same entry replaces the first's placeholder: the first reply is not kept.
    const first = cache.begin(0, t(cache), "k", "get|k")!;
    const second = cache.begin(0, t(cache), "k", "get|k")!;
    cache.fill(first, "first", 10);
    expect(cache.lookup(t(cache), "get|k")).toBeUndefined();
    cache.fill(second, "second", 10);
    expect(cache.lookup(t(cache), "get|k")).toBe("second");
  });

  it("lets later reads share a read in flight, until the key changes", async () => {
    const cache = tracked();
    const reply = Promise.resolve("v");
    cache.begin(0, t(cache), "k", "k", reply);
    expect(cache.inflight(t(cache), "k")).toBe(reply);
    cache.invalidate(["k"]);
    expect(cache.inflight(t(cache), "k")).toBeUndefined();
    expect(cache.stats()[0]!.misses).toBe(2);
  });

  it("drops a changed key from every shard's domain (a read redirected over a cluster is filed under the shard it was routed to)", () => {
    const cache = tracked(2);
    cache.fill(cache.begin(0, t(cache), "moved", "get|moved")!, "old", 10);
    cache.invalidate(["moved"]);
    expect(cache.lookup(t(cache), "get|moved")).toBeUndefined();
  });

  it("invalidates every entry of a key (GET and HGET alike) and nothing else", () => {
    const cache = tracked();
    cache.fill(cache.begin(0, t(cache), "h", "hget|h|a")!, "1", 10);
    cache.fill(cache.begin(0, t(cache), "h", "hgetall|h")!, ["a", "1"], 10);
    cache.fill(cache.begin(0, t(cache), "other", "get|other")!, "x", 10);
    cache.invalidate(["h"]);
    expect(cache.lookup(t(cache), "hget|h|a")).toBeUndefined();
    expect(cache.lookup(t(cache), "hgetall|h")).toBeUndefined();
    expect(cache.lookup(t(cache), "get|other")).toBe("x");
    expect(cache.stats()[0]!.invalidations).toBe(1);
  });

  it("flushes one shard's domain only; a domain without tracking neither serves nor fills", () => {
    const cache = tracked();
    cache.fill(cache.begin(0, t(cache), "a", "get|a")!, "A", 10);
    cache.fill(cache.begin(1, t(cache), "b", "get|b")!, "B", 10);
    cache.flush(0, "connection");
    expect(cache.lookup(t(cache), "get|a")).toBeUndefined();
    expect(cache.lookup(t(cache), "get|b")).toBe("B");
    expect(cache.begin(0, t(cache), "a", "get|a")).toBeUndefined();
    expect(cache.stats().map((s) => [s.tracking, s.flushes.connection])).toEqual([
      [false, 1],
      [true, 0],
    ]);
    expect(new NearCache(limits).begin(3, new Map(), "k", "get|k")).toBeUndefined();
  });

  it("keeps at most maxEntries and maxBytes, dropping the least recently used first", () => {
    const cache = new NearCache({ maxEntries: 3, maxBytes: 100, ttlMs: 1000 }, () => 0);
    cache.track(0);
    for (const k of ["a", "b", "c"]) cache.fill(cache.begin(0, t(cache), k, `get|${k}`)!, k, 10);
    expect(cache.lookup(t(cache), "get|a")).toBe("a"); // a is now the most recent
    cache.fill(cache.begin(0, t(cache), "d", "get|d")!, "d", 10);
    expect([cache.lookup(t(cache), "get|b"), cache.lookup(t(cache), "get|a"), cache.lookup(t(cache), "get|d")]).toEqual([undefined, "a", "d"]);
    expect(cache.size).toBeLessThanOrEqual(3);
    cache.fill(cache.begin(0, t(cache), "big", "get|big")!, "big", 95);
    expect(cache.totalBytes).toBeLessThanOrEqual(100);
    expect(cache.lookup(t(cache), "get|big")).toBe("big");
  });

  it("never serves an entry older than ttlMs", () => {
    let now = 0;
    const cache = tracked(1, () => now);
    cache.fill(cache.begin(0, t(cache), "k", "get|k")!, "v", 10);
    now = 999;
    expect(cache.lookup(t(cache), "get|k")).toBe("v");
    now = 1000;
    expect(cache.lookup(t(cache), "get|k")).toBeUndefined();
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
      ["get", "hget", "hgetall", "exists", "strlen", "smembers"],
    ]);
    expect(problems({ nearCache: { maxEntries: 0, mode: "push", commands: ["set"], size: 1 } })).toEqual([
      "unknown option in nearCache 'size'",
      "nearCache.maxEntries must be an integer from 1 to 10000000 (got 0)",
      'nearCache.mode must be one of default, broadcast (got "push")',
      expect.stringMatching(/^nearCache.commands: "set" is not a cacheable read command/),
    ]);
    expect(problems({ nearCache: { prefixes: ["users:"] } })).toEqual([expect.stringMatching(/prefixes apply to mode "broadcast" only/)]);
    expect(problems({ nearCache: {}, redis: { protocol: 2 } })).toEqual(["nearCache needs RESP3 connections (Redis 6 or later): remove redis.protocol: 2"]);
  });
});
