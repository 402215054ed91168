/**
 * ioredis's `replyMapping: "resp3"` (redis.replyMapping) on shardis's own
 * paths over three real servers: replies that shardis hands out itself
 * (an unpipelined MULTI's EXEC on a dedicated connection, the near cache's
 * kept replies, blocking commands on pooled connections, split commands)
 * have ioredis's RESP3 shapes too. The ioredis-shaped surfaces are compared
 * with real ioredis in the matrix (ioredisMatrix.test.ts).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, ShardedClient } from "../../lib/index.js";
import { startFleet, type Fleet } from "../support/fleet.js";
import { startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";
import { eventually } from "../support/keys.js";

describe('redis.replyMapping "resp3"', () => {
  let fleet: Fleet;
  let client: ShardedClient;
  beforeAll(async () => {
    fleet = await startFleet(3);
    client = fleet.client({ redis: { replyMapping: "resp3" } });
  });
  afterAll(async () => fleet?.stop());
  beforeEach(async () => fleet.flushAll());

  it("gives scores as numbers and streams as objects, also from a dedicated connection's MULTI and a blocking XREAD", async () => {
    await client.zadd("{u}z", 1.5, "a");
    await client.xadd("{u}x", "1-1", "f", "v");
    const exec = await client.withConnection("{u}z", async (conn) => {
      await conn.multi({ pipeline: false });
      await conn.zscore("{u}z", "a");
      await conn.xrange("{u}x", "-", "+");
      return conn.exec();
    });
    expect(exec).toEqual([[null, 1.5], [null, [["1-1", ["f", "v"]]]]]);
    expect(await client.xread("BLOCK", 100, "STREAMS", "{u}x", "0")).toEqual({ "{u}x": [["1-1", ["f", "v"]]] });
    expect(await client.zmscore("{u}z", "a", "b")).toEqual([1.5, null]);
  });

  it("keeps the shapes through the near cache", async () => {
    const near = fleet.client({ redis: { replyMapping: "resp3" }, nearCache: { commands: ["get", "hgetall", "zscore"] } });
    await near.ready();
    await near.hset("h", "f", "1");
    await near.zadd("z", 2.5, "m");
    for (let i = 0; i < 2; i++) expect([await near.hgetall("h"), await near.zscore("z", "m")]).toEqual([{ f: "1" }, 2.5]);
    // Invalidation pushes still arrive: another client's write is seen.
    await client.zadd("z", 4, "m");
    await eventually(async () => expect(await near.zscore("z", "m")).toBe(4));
  });

  it("delivers pub/sub messages and answers while subscribed", async () => {
    const sub = fleet.client({ redis: { replyMapping: "resp3" } });
    const got = new Promise((resolve) => sub.on("message", (channel: string, message: string) => resolve([channel, message])));
    expect(await sub.subscribe("news")).toBe(1);
    await client.publish("news", "hi");
    expect(await got).toEqual(["news", "hi"]);
    await sub.zadd("z", 3.5, "m");
    expect(await sub.zscore("z", "m")).toBe(3.5);
  });

  it("needs protocol 3, as in ioredis: ConfigError otherwise", () => {
    expect(() => new ShardedClient({ shards: fleet.shards, redis: { replyMapping: "resp3", protocol: 2 } })).toThrow(ConfigError);
    expect(() => new ShardedClient({ shards: fleet.shards, redis: { replyMapping: "resp3", protocol: 2 } })).toThrow(/only supported with protocol 3/);
  });
});

describe('redis.replyMapping "resp3" over a Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  });
  afterAll(async () => cluster?.stop());

  it("reads the slot map (CLUSTER SHARDS comes as maps) and answers in RESP3 shapes", async () => {
    const client = new ShardedClient({ cluster: { seeds: [cluster.seeds[0]!] }, redis: { replyMapping: "resp3" } });
    try {
      await client.ready();
      expect(client.topology().shards).toHaveLength(3);
      await client.zadd("{c}z", 0.5, "m");
      expect([await client.zscore("{c}z", "m"), await client.mget("a", "b", "c")]).toEqual([0.5, [null, null, null]]);
    } finally {
      await client.quit();
    }
  });
});
