/**
 * redlock 4.2, unchanged, with the sharded client as its one "server": each
 * lock's key is set by EVALSHA (EVAL after NOSCRIPT) with the key in the
 * script's KEYS, routed to the shard that owns it; a second lock is refused
 * while the first is held, extend() pushes the expiry, unlock() deletes it.
 * Read back on the owning shard with a plain client.
 */
import { describe, expect, it } from "vitest";
import Redlock from "redlock";
import { fleetWithClient, watchUnhandled } from "../support/fleet.js";

describe("redlock 4.2 over shards", () => {
  const ctx = fleetWithClient(3);
  const owner = (key: string) => ctx.fleet.raw(Number(ctx.client.shardOf(key).slice(1)));

  it("acquires, refuses a second lock while held, extends and releases, each on the owning shard", async () => {
    const unhandled = watchUnhandled();
    const redlock = new Redlock([ctx.client], { retryCount: 0 });
    const clientErrors: Error[] = [];
    redlock.on("clientError", (error) => clientErrors.push(error));
    const resources = ["locks:order:1", "locks:order:2", "locks:order:3", "locks:order:4", "locks:order:5", "locks:order:6"];
    expect(new Set(resources.map((r) => ctx.client.shardOf(r))).size).toBe(3);
    try {
      for (const resource of resources) {
        const lock = await redlock.lock(resource, 10_000);
        expect(await owner(resource).get(resource)).toBe(lock.value);
        await expect(redlock.lock(resource, 10_000)).rejects.toBeInstanceOf(Redlock.LockError);
        expect(await owner(resource).get(resource)).toBe(lock.value);
        const extended = await lock.extend(60_000);
        expect(await owner(resource).pttl(resource)).toBeGreaterThan(10_000);
        await extended.unlock();
        expect(await owner(resource).exists(resource)).toBe(0);
        const again = await redlock.lock(resource, 10_000);
        expect(await owner(resource).get(resource)).toBe(again.value);
        await again.unlock();
      }
      // A lock over several resources runs one script over all their keys: under one hash tag, they share a shard.
      const pair = ["{order:7}:stock", "{order:7}:payment"];
      const both = await redlock.lock(pair, 10_000);
      expect(await owner(pair[0]!).mget(...pair)).toEqual([both.value, both.value]);
      await both.unlock();
      // Every shard forgets the scripts: redlock's EVALSHA answers NOSCRIPT, and its eval([script, ...], callback) runs them.
      await Promise.all([0, 1, 2].map((i) => ctx.fleet.raw(i).script("FLUSH")));
      const after = await redlock.lock(resources[0]!, 10_000);
      expect(await owner(resources[0]!).get(resources[0]!)).toBe(after.value);
      await after.unlock();
      expect(await owner(resources[0]!).exists(resources[0]!)).toBe(0);
      expect(clientErrors).toEqual([]);
    } finally {
      unhandled.stop();
    }
    expect(unhandled.errors).toEqual([]);
  });
});
