/**
 * ioredis's connection URLs, `redis://user:password@host:port/db?protocol=2`,
 * as shard addresses, beside a real ioredis client given the same URL,
 * against a real redis-server: the connection ends up with the same
 * protocol, database and user. What a URL asks that shardis cannot honour
 * (options differing between shards) is a ConfigError.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { ConfigError, ShardedClient } from "../../lib/index.js";
import { startRedisMany, stopAll, type RedisServer } from "../support/redis.js";

describe("redis:// URLs as addresses", () => {
  let servers: RedisServer[];
  const closing: Array<{ quit(): Promise<unknown> }> = [];
  beforeAll(async () => {
    servers = await startRedisMany(2);
  });
  afterAll(async () => {
    await Promise.all(closing.map((c) => c.quit().catch(() => undefined)));
    await stopAll(servers ?? []);
  });

  /** What the server says of the connection: RESP version and database. */
  const seen = (info: string) => [/ resp=(\d)/.exec(info)?.[1], / db=(\d+)/.exec(info)?.[1], / user=(\S+)/.exec(info)?.[1]];

  it("honours ?protocol=2, the db in the path and the credentials, as ioredis does", async () => {
    const url = (s: RedisServer) => `redis://default:@${s.host}:${s.port}/2?protocol=2&connectionName=app`;
    const ioredis = new Redis(url(servers[0]!));
    closing.push(ioredis);
    const client = new ShardedClient({ shards: [{ name: "s0", master: url(servers[1]!) }] });
    closing.push(client);
    const fromIoredis = seen((await ioredis.client("INFO")) as string);
    const fromShardis = seen((await client.shard("s0").call("CLIENT", "INFO")) as string);
    expect(fromShardis).toEqual(fromIoredis);
    expect(fromShardis).toEqual(["2", "2", "default"]);
    expect(await client.shard("s0").call("CLIENT", "GETNAME")).toBe("app");
    expect([client.options.db, client.options.host, client.options.port]).toEqual([2, servers[1]!.host, servers[1]!.port]);
  });

  it("refuses what it cannot honour, naming it and never the password", () => {
    const a = `redis://${servers[0]!.host}:${servers[0]!.port}`;
    const b = `redis://${servers[1]!.host}:${servers[1]!.port}`;
    const make = (options: object) => () => new ShardedClient(options as never);
    expect(make({ shards: [{ name: "s0", master: `${a}/1` }, { name: "s1", master: `${b}/2` }] })).toThrow(ConfigError);
    expect(make({ shards: [{ name: "s0", master: `${a}/1` }, { name: "s1", master: `${b}/2` }] })).toThrow(/db .*differs/);
    expect(make({ shards: [{ name: "s0", master: `${a}?protocol=2` }], redis: { protocol: 3 } })).toThrow(/protocol .*differs/);
    expect(make({ shards: [{ name: "s0", master: `${a}?nosuch=1` }] })).toThrow(/'nosuch'/);
    expect(make({ shards: [{ name: "s0", master: `redis://u:hunter2@h:1?protocol=9` }] })).toThrow(/protocol must be one of 2, 3/);
    expect(make({ shards: [{ name: "s0", master: `redis://u:hunter2@h:1?protocol=9` }] })).not.toThrow(/hunter2/);
  });
});
