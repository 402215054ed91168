/**
 * rate-limiter-flexible's RateLimiterRedis, unchanged, on a 3-shard client:
 * points are counted per key on the key's shard (its Lua script via
 * defineCommand), and rejectIfRedisNotReady reads the client's status.
 */
import { describe, expect, it } from "vitest";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { fleetWithClient } from "../support/fleet.js";

describe("rate-limiter-flexible over shards", () => {
  const ctx = fleetWithClient(3);

  it("limits each key on its own shard", async () => {
    const limiter = new RateLimiterRedis({ storeClient: ctx.client, keyPrefix: "rlflx", points: 3, duration: 60 });
    const users = ["alice", "bob", "carol", "dave"];
    expect(new Set(users.map((u) => ctx.client.shardOf(`rlflx:${u}`))).size).toBeGreaterThan(1);
    for (const user of users) {
      for (let i = 1; i <= 3; i++) expect((await limiter.consume(user)).remainingPoints).toBe(3 - i);
      const refused = await limiter.consume(user).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RateLimiterRes);
      expect((refused as RateLimiterRes).msBeforeNext).toBeGreaterThan(0);
    }
    // The counters really are on the shards that own them.
    const owner = Number(ctx.client.shardOf("rlflx:alice").slice(1));
    expect(await ctx.fleet.raw(owner).get("rlflx:alice")).toBe("4");
    expect((await limiter.get("bob"))?.consumedPoints).toBe(4);
    await limiter.delete("bob");
    expect((await limiter.consume("bob")).remainingPoints).toBe(2);
  });

  it("rejects while the client is not ready when rejectIfRedisNotReady is set, and works once it is", async () => {
    const lazy = ctx.fleet.client({ lazyConnect: true });
    const limiter = new RateLimiterRedis({ storeClient: lazy, keyPrefix: "rlready", points: 1, duration: 60, rejectIfRedisNotReady: true });
    await expect(limiter.consume("x")).rejects.toThrow(/not ready/i);
    await lazy.connect();
    expect((await limiter.consume("x")).remainingPoints).toBe(0);
  });
});
