import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { ShardedClient } from "../../lib/index.js";
import { startRedisMany, stopAll, type RedisServer } from "../support/redis.js";
import { startNutcracker } from "../support/nutcracker.js";

/** ioredis 6 options a twemproxy pool accepts (RESP2, no HELLO, no CLIENT SETINFO, no INFO ready check). */
const PROXY_SAFE = { protocol: 2 as const, enableReadyCheck: false, disableClientInfo: true };

const KEYS = Array.from({ length: 4000 }, (_, i) =>
  i % 5 === 0 ? `{session:${i % 13}}:item:${i}` : i % 7 === 0 ? `caf\u00e9:${i}` : `user:${i}:profile`,
);

describe("ketama placement is identical to twemproxy (nutcracker)", () => {
  let servers: RedisServer[];

  beforeAll(async () => {
    servers = await startRedisMany(7);
  });
  afterAll(async () => stopAll(servers));

  async function compare(count: number, weights: number[], hashTag?: string): Promise<void> {
    const used = servers.slice(0, count);
    const shards = used.map((s, i) => ({ name: `cache-${i}`, master: s.address, weight: weights[i] ?? 1 }));
    await Promise.all(used.map((s) => s.client().flushall()));
    const proxy = await startNutcracker(
      shards.map((s) => ({ name: s.name, address: s.master, weight: s.weight })),
      hashTag ? { hashTag } : {},
    );
    const viaProxy = new Redis({ port: proxy.port, host: "127.0.0.1", ...PROXY_SAFE });
    const shardis = new ShardedClient({
      shards,
      sharding: { strategy: "ketama", ...(hashTag ? { hashTag } : {}) },
    });
    try {
      // twemproxy writes, and the key must sit on the server shardis names.
      const write = viaProxy.pipeline();
      for (const key of KEYS) write.set(key, key);
      await write.exec();
      const owners = await Promise.all(
        used.map(async (s) => {
          const check = s.client().pipeline();
          for (const key of KEYS) check.exists(key);
          return (await check.exec())!.map(([, n]) => n === 1);
        }),
      );
      const wrong = KEYS.filter((key, k) => !owners[shards.findIndex((s) => s.name === shardis.shardOf(key))]![k]);
      expect(wrong).toEqual([]);
      // And the cache is warm: shardis reads every key twemproxy wrote.
      const values = await shardis.mget(...KEYS);
      expect(values).toEqual(KEYS);
    } finally {
      viaProxy.disconnect();
      await shardis.quit();
      await proxy.stop();
    }
  }

  it("3 equal shards", () => compare(3, [1, 1, 1]));
  it("3 weighted shards (1, 2, 5)", () => compare(3, [1, 2, 5]));
  it("7 equal shards, where double-precision ketama helpers place differently", () => compare(7, []));
  it("5 weighted shards (1, 4, 1, 2, 17)", () => compare(5, [1, 4, 1, 2, 17]));
  it('with hash_tag "{}"', () => compare(3, [1, 1, 1], "{}"));
});
