/**
 * bentocache, unchanged: its Redis driver takes the sharded client as its
 * connection (it checks instanceof ioredis and reads options.keyPrefix),
 * clear() walks every shard with cursor SCAN, and its bus (pub/sub on
 * duplicate()d clients, messageBuffer events) keeps two processes' memory
 * layers in step.
 */
import { describe, expect, it } from "vitest";
import { BentoCache, bentostore } from "bentocache";
import { memoryDriver } from "bentocache/drivers/memory";
import { redisBusDriver, redisDriver } from "bentocache/drivers/redis";
import { fleetWithClient } from "../support/fleet.js";
import { eventually } from "../support/keys.js";

describe("bentocache over shards", () => {
  const ctx = fleetWithClient(3);

  it("stores, reads and clears through the Redis driver, on every shard", async () => {
    const bento = new BentoCache({ default: "redis", stores: { redis: bentostore().useL2Layer(redisDriver({ connection: ctx.client as never })) } });
    const keys = Array.from({ length: 30 }, (_, i) => `item-${i}`);
    for (const key of keys) await bento.set({ key, value: { key } });
    expect(await bento.get({ key: "item-7" })).toEqual({ key: "item-7" });
    expect(await bento.getOrSet({ key: "computed", factory: () => 42 })).toBe(42);
    const perShard = await Promise.all([0, 1, 2].map((i) => ctx.fleet.raw(i).dbsize()));
    expect(perShard.every((n) => n > 0)).toBe(true);
    const users = bento.namespace("users");
    await users.set({ key: "1", value: "ada" });
    await users.clear();
    expect(await users.get({ key: "1" })).toBeUndefined();
    expect(await bento.get({ key: "item-7" })).toEqual({ key: "item-7" });
    await bento.clear();
    expect(await Promise.all([0, 1, 2].map((i) => ctx.fleet.raw(i).dbsize()))).toEqual([0, 0, 0]);
  });

  it("keeps two instances' memory layers in step through the bus", async () => {
    const make = () =>
      new BentoCache({
        default: "tiered",
        stores: {
          tiered: bentostore()
            .useL1Layer(memoryDriver({ maxItems: 100 }))
            .useL2Layer(redisDriver({ connection: ctx.client as never }))
            .useBus(redisBusDriver({ connection: ctx.client as never })),
        },
      });
    const [a, b] = [make(), make()];
    try {
      // Each instance subscribes its bus when its store is first used; wait for both subscriptions.
      await Promise.all([a.get({ key: "warm" }), b.get({ key: "warm" })]);
      const channel = "bentocache.notifications:tiered";
      await eventually(async () => expect(await ctx.client.pubsub("NUMSUB", channel)).toEqual([channel, 2]));
      await a.set({ key: "shared", value: "v1" });
      expect(await b.get({ key: "shared" })).toBe("v1"); // now in b's memory layer
      await a.set({ key: "shared", value: "v2" });
      await eventually(async () => expect(await b.get({ key: "shared" })).toBe("v2"));
    } finally {
      await Promise.all([a.disconnect(), b.disconnect()]).catch(() => undefined);
    }
  });
});
