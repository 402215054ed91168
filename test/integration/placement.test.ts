import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySlot, ShardedClient } from "../../lib/index.js";
import { startFleet, type Fleet } from "../support/fleet.js";
import { startRedisCluster } from "../support/cluster.js";
import { defaultSlotRanges } from "../../lib/sharding/slotMap.js";

const KEYS = Array.from({ length: 3000 }, (_, i) => (i % 10 === 0 ? `{tag${i % 7}}:k${i}` : `key:${i}`));

/** Writes every key through shardis, then checks with raw ioredis that each key lives only on shardOf(key). */
async function expectPlacement(fleet: Fleet, client: ShardedClient, balanced = true): Promise<void> {
  await fleet.flushAll();
  await Promise.all(KEYS.map((key) => client.set(key, "v")));
  const names = fleet.shards.map((s) => s.name);
  const present = await Promise.all(
    names.map(async (_, i) => {
      const pipeline = fleet.raw(i).pipeline();
      for (const key of KEYS) pipeline.exists(key);
      return (await pipeline.exec())!.map(([, n]) => n === 1);
    }),
  );
  const wrong = KEYS.filter((key, k) =>
    names.some((name, i) => present[i]![k] !== (client.shardOf(key) === name)),
  );
  expect(wrong).toEqual([]);
  const sizes = await Promise.all(names.map((_, i) => fleet.raw(i).dbsize()));
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(KEYS.length);
  // Every shard gets a real share of the keys.
  if (balanced) for (const size of sizes) expect(size).toBeGreaterThan(KEYS.length / names.length / 3);
}

describe("placement on real servers", () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await startFleet(3);
  });
  afterAll(async () => fleet?.stop());

  it("slots: each key is stored only on the shard shardOf names", async () => {
    await expectPlacement(fleet, fleet.client());
  });

  it("slots with an explicit map", async () => {
    const client = fleet.client({
      sharding: { strategy: "slots", slots: { s0: [[0, 999]], s1: [[1000, 15999]], s2: [[16000, 16383]] } },
    });
    await expectPlacement(fleet, client, false);
    const owner = (slot: number) => (slot < 1000 ? "s0" : slot < 16000 ? "s1" : "s2");
    expect(KEYS.filter((k) => client.shardOf(k) !== owner(keySlot(k)))).toEqual([]);
  });

  it("ketama: each key is stored only on the shard shardOf names", async () => {
    await expectPlacement(fleet, fleet.client({ sharding: { strategy: "ketama" } }));
  });

  it("ketama with weights and a hash tag", async () => {
    const shards = fleet.shards.map((s, i) => ({ ...s, weight: i + 1 }));
    const client = fleet.client({ shards, sharding: { strategy: "ketama", hashTag: "{}" } });
    await expectPlacement(fleet, client);
    expect(client.shardOf("{user:1}:a")).toBe(client.shardOf("{user:1}:b"));
  });

  it("moving a shard to a new address moves none of its keys", () => {
    for (const sharding of [{ strategy: "slots" as const }, { strategy: "ketama" as const }]) {
      const before = new ShardedClient({ shards: fleet.shards, sharding, lazyConnect: true });
      const moved = fleet.shards.map((s, i) => (i === 1 ? { ...s, master: "10.9.9.9:6390" } : s));
      const after = new ShardedClient({ shards: moved, sharding, lazyConnect: true });
      expect(KEYS.filter((k) => before.shardOf(k) !== after.shardOf(k))).toEqual([]);
      void before.quit();
      void after.quit();
    }
  });
});

describe("default slot map vs redis-cli --cluster create", () => {
  it.each([3, 5])("matches the split redis-cli makes for %i masters", async (masters) => {
    const cluster = await startRedisCluster(masters);
    try {
      const raw = cluster.masters[0]!.client();
      const slots = (await raw.cluster("SLOTS")) as unknown as Array<[number, number, [string, number, string]]>;
      const byPort = new Map(slots.map(([start, end, [, port]]) => [port, [start, end]]));
      const expected = defaultSlotRanges(new Array(masters).fill(1));
      expect(cluster.masters.map((m) => byPort.get(m.port))).toEqual(expected);
    } finally {
      await cluster.stop();
    }
  });
});
