/**
 * redis-semaphore 5.8, unchanged: Mutex and Semaphore run their Lua scripts
 * through evalsha (eval after NOSCRIPT) with their key in KEYS, so each lock
 * lives on the shard that owns `mutex:<key>` / `semaphore:<key>`. A second
 * holder is refused while the lock is full; release frees it. Read back on
 * the owning shard with a plain client.
 */
import { describe, expect, it } from "vitest";
import { Mutex, Semaphore } from "redis-semaphore";
import { fleetWithClient, watchUnhandled } from "../support/fleet.js";

describe("redis-semaphore 5.8 over shards", () => {
  const ctx = fleetWithClient(3);
  // The client's `options` type holds shardis's own fields (natMap, sentinels, tls: true), which ioredis's RedisOptions types otherwise.
  const client = () => ctx.client as never;
  const owner = (key: string) => ctx.fleet.raw(Number(ctx.client.shardOf(key).slice(1)));
  // Short tries: a refused acquire gives up at once instead of waiting out acquireTimeout.
  const options = { lockTimeout: 10_000, acquireAttemptsLimit: 1, refreshInterval: 0 };

  it("Mutex: one holder at a time, its identifier in mutex:<key> on the owning shard, gone once released", async () => {
    const unhandled = watchUnhandled();
    const keys = ["job:1", "job:2", "job:3", "job:4", "job:5", "job:6"];
    expect(new Set(keys.map((k) => ctx.client.shardOf(`mutex:${k}`))).size).toBe(3);
    try {
      for (const key of keys) {
        const mutex = new Mutex(client(), key, options);
        await mutex.acquire();
        expect(await owner(`mutex:${key}`).get(`mutex:${key}`)).toBe(mutex.identifier);
        expect(await new Mutex(client(), key, options).tryAcquire()).toBe(false);
        await mutex.release();
        expect(await owner(`mutex:${key}`).exists(`mutex:${key}`)).toBe(0);
        const next = new Mutex(client(), key, options);
        expect(await next.tryAcquire()).toBe(true);
        await next.release();
      }
      // Every shard forgets the scripts: its evalsha answers NOSCRIPT, and it falls back to eval.
      await Promise.all([0, 1, 2].map((i) => ctx.fleet.raw(i).script("FLUSH")));
      const after = new Mutex(client(), keys[0]!, options);
      await after.acquire();
      expect(await owner(`mutex:${keys[0]}`).get(`mutex:${keys[0]}`)).toBe(after.identifier);
      await after.release();
    } finally {
      unhandled.stop();
    }
    expect(unhandled.errors).toEqual([]);
  });

  it("Semaphore: up to its limit of holders, each a member of semaphore:<key> on the owning shard", async () => {
    const unhandled = watchUnhandled();
    const keys = ["pool:a", "pool:b", "pool:c", "pool:d", "pool:e", "pool:f"];
    expect(new Set(keys.map((k) => ctx.client.shardOf(`semaphore:${k}`))).size).toBe(3);
    try {
      for (const key of keys) {
        const zset = `semaphore:${key}`;
        const holders = [new Semaphore(client(), key, 2, options), new Semaphore(client(), key, 2, options)];
        for (const holder of holders) await holder.acquire();
        expect((await owner(zset).zrange(zset, "0", "-1")).sort()).toEqual(holders.map((h) => h.identifier).sort());
        expect(await new Semaphore(client(), key, 2, options).tryAcquire()).toBe(false);
        await holders[0]!.release();
        expect(await owner(zset).zrange(zset, "0", "-1")).toEqual([holders[1]!.identifier]);
        const third = new Semaphore(client(), key, 2, options);
        expect(await third.tryAcquire()).toBe(true);
        expect(await owner(zset).zcard(zset)).toBe(2);
        await Promise.all([holders[1]!.release(), third.release()]);
        expect(await owner(zset).exists(zset)).toBe(0);
      }
    } finally {
      unhandled.stop();
    }
    expect(unhandled.errors).toEqual([]);
  });
});
