/**
 * ioredis's keyPrefix (redis.keyPrefix) on shardis's own surfaces over three
 * real servers: the prefix is part of the key for placement (a key lands on
 * the shard of its prefixed name), and shard handles, withConnection(),
 * shardOf(), explain(), scan streams and the cache layer all use it. The
 * ioredis-shaped surfaces (commands, pipelines, multi, scripts, SCAN MATCH,
 * duplicate) are compared with real ioredis in the matrix (ioredisMatrix.test.ts).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Cluster } from "ioredis";
import { keySlot, ShardedClient } from "../../lib/index.js";
import { startFleet, type Fleet } from "../support/fleet.js";
import { startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";

describe("redis.keyPrefix", () => {
  let fleet: Fleet;
  let plain: ShardedClient;
  let client: ShardedClient;
  beforeAll(async () => {
    fleet = await startFleet(3);
    plain = fleet.client();
    client = fleet.client({ redis: { keyPrefix: "app:" } });
  });
  afterAll(async () => fleet?.stop());
  beforeEach(async () => fleet.flushAll());

  /** A key whose prefixed name lives on shard `on` and whose bare name does not. */
  const keyMovedBy = (on: string): string => {
    for (let i = 0; i < 10_000; i++) if (plain.shardOf(`app:k${i}`) === on && plain.shardOf(`k${i}`) !== on) return `k${i}`;
    throw new Error("no such key");
  };
  const rawOf = (shard: string) => fleet.raw(Number(shard.slice(1)));

  it("places a key by its prefixed name, and every surface agrees", async () => {
    const key = keyMovedBy("s2");
    expect(client.shardOf(key)).toBe("s2");
    expect(client.explain("get", key)).toMatchObject({ parts: [{ shard: "s2" }] });
    await client.set(key, "v");
    expect(await rawOf("s2").get(`app:${key}`)).toBe("v");
    expect(await client.shard("s2").get(key)).toBe("v");
    expect(await client.withConnection(key, (conn) => conn.get(key))).toBe("v");
    expect(await client.withConnection(key, (conn) => conn.multi().append(key, "w").exec())).toEqual([[null, 2]]);
    expect(await client.shard("s2").keys("app:*")).toEqual(expect.arrayContaining([`app:${key}`]));
  });

  it("scan streams match patterns as given and return stored names; hscanStream prefixes its key", async () => {
    await client.mset("{a}x", "1", "{a}y", "2");
    await client.hset("h", "f", "v");
    const found: string[] = [];
    for await (const batch of client.scanStream({ match: "app:{a}*" })) found.push(...(batch as string[]));
    expect(found.sort()).toEqual(["app:{a}x", "app:{a}y"]);
    const fields: string[] = [];
    for await (const batch of client.hscanStream("h")) fields.push(...(batch as string[]));
    expect(fields).toEqual(["f", "v"]);
  });

  it("puts the cache layer's keys under the prefix", async () => {
    const users = client.cache<{ id: number }>({ namespace: "users", ttlMs: 60_000 });
    expect(await users.getOrSet("42", async () => ({ id: 42 }))).toEqual({ id: 42 });
    const stored: string[] = [];
    for (const i of [0, 1, 2]) stored.push(...(await fleet.raw(i).keys("*")));
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.every((k) => k.startsWith("app:"))).toBe(true);
    // Read back through the prefixed client: a hit.
    expect(await users.getOrSet("42", async () => ({ id: 0 }))).toEqual({ id: 42 });
  });

  it("is shown in options and kept by duplicate(), which may change it", async () => {
    expect(client.options.keyPrefix).toBe("app:");
    const other = client.duplicate({ keyPrefix: "other:" });
    const same = client.duplicate();
    try {
      await other.set("{d}k", "1");
      await same.set("{d}k", "2");
      expect(await plain.mget("other:{d}k", "app:{d}k")).toEqual(["1", "2"]);
    } finally {
      await Promise.all([other.quit(), same.quit()]);
    }
  });
});

describe("redis.keyPrefix over a Redis Cluster, beside ioredis's Cluster", () => {
  let cluster: RedisClusterHandle;
  const shardis: ShardedClient[] = [];
  const ioredis: Cluster[] = [];
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  });
  afterAll(async () => {
    await Promise.all([...shardis.map((c) => c.quit()), ...ioredis.map((c) => c.quit())]);
    await cluster?.stop();
  });

  /** The same calls on ioredis's Cluster and on shardis, each with the prefix: the prefix is part of the key for the slot. */
  const both = async (keyPrefix: string, run: (c: ShardedClient | Cluster, tag: string) => Promise<unknown>) => {
    const s = new ShardedClient({ cluster: { seeds: [cluster.seeds[0]!] }, redis: { keyPrefix } });
    const i = new Cluster([cluster.seeds[0]!], { keyPrefix });
    shardis.push(s);
    ioredis.push(i);
    return [await run(i, "{i}"), await run(s, "{s}")];
  };

  it("hashes a {tag} after the prefix, as ioredis does", async () => {
    const [viaIoredis, viaShardis] = await both("p:", async (c, tag) => [
      await c.mset(`${tag}a`, "1", `${tag}b`, "2"),
      await c.multi().incr(`${tag}n`).get(`${tag}a`).exec(),
      await c.mget(`${tag}a`, `${tag}b`),
    ]);
    expect(viaShardis).toEqual(viaIoredis);
    expect(viaShardis).toEqual(["OK", [[null, 1], [null, "1"]], ["1", "2"]]);
    // Stored under the prefixed name, on the master that owns its slot.
    const owner = cluster.masters[Math.floor(keySlot("p:{s}a") / 5461.34)]!;
    expect(await owner.client().get("p:{s}a")).toBe("1");
  });

  it("puts a tagged prefix's keys in one slot, as ioredis does", async () => {
    const [viaIoredis, viaShardis] = await both("{app}:", async (c, tag) => [await c.mset(`${tag}x`, "1", "y", "2"), await c.rename("y", `${tag}z`), await c.mget(`${tag}x`, `${tag}z`)]);
    expect(viaShardis).toEqual(viaIoredis);
    expect(viaShardis).toEqual(["OK", "OK", ["1", "2"]]);
  });
});
