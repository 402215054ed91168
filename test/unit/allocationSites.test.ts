/**
 * Objects that a burst keeps alive by the thousand are class instances, not
 * object literals. V8 pretenures a literal's allocation site (its objects
 * born in the old generation) once a scavenge finds nearly all of its
 * recent objects alive, and decides so in some processes and not in others:
 * the garbage-collector mode of issue 22 (docs/benchmarks.md). `new` of a
 * class carries no allocation site. The shape is what these tests can see:
 * an instance's prototype is its class's, a literal's is Object.prototype.
 */
import { describe, expect, it } from "vitest";
import { NearCache } from "../../lib/nearcache/NearCache.js";
import { entryKey } from "../../lib/cache/keys.js";

describe("objects a warm-up keeps alive by the thousand", () => {
  it("near-cache entries (the cache warming up keeps them) are instances of a class", () => {
    const cache = new NearCache({ maxEntries: 10, maxBytes: 1_000_000, ttlMs: 1000 }, () => 0);
    cache.track(0);
    const entry = cache.begin(0, cache.table("get utf8"), "k", "k")!;
    expect(Object.getPrototypeOf(entry)).not.toBe(Object.prototype);
    cache.fill(entry, "v", 10);
    expect(cache.lookup(cache.table("get utf8"), "k", "k")).toBe("v");
  });

  it("the cache layer's entry keys (a burst of set() keeps them across its writes) are instances of a class", () => {
    for (const key of ["k", Buffer.from("k")]) {
      const entry = entryKey("ns:", key);
      expect(Object.getPrototypeOf(entry)).not.toBe(Object.prototype);
      expect(String(entry.full)).toBe("ns:k");
    }
  });
});
