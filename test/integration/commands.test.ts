import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ReplyError } from "ioredis";
import {
  CrossShardError,
  InvalidArgumentError,
  KeylessCommandError,
  ShardedClient,
  UnknownCommandError,
  UnknownShardError,
  UnsupportedCommandError,
} from "../../lib/index.js";
import { startFleet, type Fleet } from "../support/fleet.js";

/** n keys that land on the given shard. */
function keysOn(client: ShardedClient, shard: string, n: number, prefix = "key"): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < n; i++) if (client.shardOf(`${prefix}:${i}`) === shard) keys.push(`${prefix}:${i}`);
  return keys;
}

describe("commands through ShardedClient (3 real shards)", () => {
  let fleet: Fleet;
  let client: ShardedClient;
  let a: string, b: string, c: string; // one key per shard

  beforeAll(async () => {
    fleet = await startFleet(3);
    client = fleet.client();
    [a, b, c] = ["s0", "s1", "s2"].map((s) => keysOn(client, s, 1)[0]!) as [string, string, string];
  });
  afterAll(async () => fleet?.stop());
  beforeEach(async () => fleet.flushAll());

  it("runs the typed ioredis command methods", async () => {
    expect(await client.set("k", "v", "PX", 5000)).toBe("OK");
    expect(await client.get("k")).toBe("v");
    expect(await client.pttl("k")).toBeGreaterThan(4000);
    expect(await client.getBuffer("k")).toEqual(Buffer.from("v"));
    expect(await client.hset("h", "f", "v")).toBe(1);
    expect(await client.hset("h", { g: "w", x: "y" })).toBe(2);
    expect(await client.hgetall("h")).toEqual({ f: "v", g: "w", x: "y" });
    expect(await client.incr("n")).toBe(1);
    expect(await client.incrby("n", 41)).toBe(42);
    expect(await client.zadd("z", 1, "one", 2, "two")).toBe(2);
    expect(await client.zrange("z", "0", "-1", "WITHSCORES")).toEqual(["one", "1", "two", "2"]);
    expect(await client.get("missing")).toBeNull();
  });

  it("routes call() by the command's keys, case-insensitively", async () => {
    expect(await client.call("HSET", "h2", "f", "v")).toBe(1);
    expect(await client.call("hget", "h2", "f")).toBe("v");
    expect(await client.callBuffer("HGET", "h2", "f")).toEqual(Buffer.from("v"));
    expect(await client.call("hgetall", "h2")).toEqual({ f: "v" });
    const owner = Number(client.shardOf("h2").slice(1));
    expect(await fleet.raw(owner).hget("h2", "f")).toBe("v");
  });

  it("passes the server's own errors through unchanged", async () => {
    await client.set("str", "x");
    const error = await client.lpush("str", "y").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplyError);
    expect((error as Error).message).toMatch(/^WRONGTYPE/);
  });

  it("round-trips binary keys and values byte for byte", async () => {
    const value = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const key = Buffer.from([0xff, 0x00, 0x7b, 0x01, 0x7d, 0xfe]);
    expect(await client.set(key, value)).toBe("OK");
    expect(await client.getBuffer(key)).toEqual(value);
    const owner = Number(client.shardOf(key).slice(1));
    expect(await fleet.raw(owner).getBuffer(key)).toEqual(value);
    await client.mset(new Map<Buffer | string, Buffer>([[key, value], [a, value], [b, Buffer.from([0])]]));
    expect(await client.mgetBuffer(key, a, b, c)).toEqual([value, value, Buffer.from([0]), null]);
  });

  it("splits MGET across shards and returns values in caller order, duplicates and misses included", async () => {
    const keys = [...keysOn(client, "s0", 20), ...keysOn(client, "s1", 20), ...keysOn(client, "s2", 20)];
    const shuffled = keys.map((k, i) => keys[(i * 37) % keys.length]!);
    await Promise.all(keys.map((k) => client.set(k, `v:${k}`)));
    const wanted = [...shuffled, "nope:1", shuffled[3]!, "nope:2"];
    expect(await client.mget(...wanted)).toEqual(wanted.map((k) => (k.startsWith("nope") ? null : `v:${k}`)));
    expect(await client.mget(wanted)).toEqual(await client.mget(...wanted));
  });

  it("splits MSET (pairs, object and Map) and stores each pair on its shard", async () => {
    expect(await client.mset(a, "1", b, "2", c, "3")).toBe("OK");
    expect(await client.mset({ [`${a}x`]: "4", [`${b}x`]: "5" })).toBe("OK");
    expect(await client.mset(new Map([[`${c}y`, "6"]]))).toBe("OK");
    expect(await client.mget(a, b, c, `${a}x`, `${b}x`, `${c}y`)).toEqual(["1", "2", "3", "4", "5", "6"]);
    for (const key of [a, b, c]) {
      const owner = Number(client.shardOf(key).slice(1));
      expect(await fleet.raw(owner).exists(key)).toBe(1);
    }
  });

  it("sums counts of DEL, UNLINK, EXISTS and TOUCH across shards", async () => {
    await client.mset(a, "1", b, "2", c, "3");
    expect(await client.exists(a, b, c, "missing", a)).toBe(4);
    expect(await client.touch(a, b, c)).toBe(3);
    expect(await client.del(a, b, "missing")).toBe(2);
    expect(await client.unlink(c, a)).toBe(1);
    expect(await client.exists(a, b, c)).toBe(0);
  });

  it("keeps a multi-key command whose keys share a shard whole (atomic on that node)", async () => {
    await client.mset("{u1}:a", "1", "{u1}:b", "2");
    expect(await client.rename("{u1}:a", "{u1}:c")).toBe("OK");
    expect(await client.sunionstore("{u1}:dst", "{u1}:s1", "{u1}:s2")).toBe(0);
    expect(await client.eval("return redis.call('GET', KEYS[1])", 1, "{u1}:c")).toBe("1");
  });

  it("refuses a cross-shard command before sending anything", async () => {
    await client.set(a, "1");
    const error = await client.rename(a, b).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrossShardError);
    expect((error as CrossShardError).shards).toEqual(["s0", "s1"]);
    expect((error as CrossShardError).code).toBe("ERR_SHARDIS_CROSS_SHARD");
    expect(await client.get(a)).toBe("1");
    const store = await client.sunionstore(c, a, b).catch((e: unknown) => e);
    expect(store).toBeInstanceOf(CrossShardError);
    expect(await client.exists(c)).toBe(0);
    await expect(client.msetnx(a, "x", b, "y")).rejects.toBeInstanceOf(CrossShardError);
    expect(await client.mget(a, b)).toEqual(["1", null]);
  });

  it("refuses keyless, unknown and connection-state commands with typed errors (and TypeScript refuses them too)", async () => {
    // @ts-expect-error FLUSHDB has no key: the types send it to client.shard(name)
    const flush = await client.flushdb().catch((e: unknown) => e);
    expect(flush).toBeInstanceOf(KeylessCommandError);
    expect((flush as Error).message).toContain("client.shard(name).flushdb(");
    // @ts-expect-error KEYS has no key either
    await expect(client.keys("*")).rejects.toBeInstanceOf(KeylessCommandError);
    await expect(client.call("NOSUCHCMD", "k")).rejects.toBeInstanceOf(UnknownCommandError);
    // @ts-expect-error SELECT would change a shared connection
    await expect(client.select(1)).rejects.toBeInstanceOf(UnsupportedCommandError);
    // @ts-expect-error WATCH needs a connection of its own (withConnection)
    await expect(client.watch("k")).rejects.toBeInstanceOf(UnsupportedCommandError);
    await expect((client.get as () => Promise<unknown>)()).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("client.shard(name) sends keyless commands to that shard only", async () => {
    await client.set(a, "1");
    await client.set(b, "2");
    expect(await client.shard("s0").ping()).toBe("PONG");
    expect(await client.shard("s0").dbsize()).toBe(1);
    expect(await client.shard("s0").flushdb()).toBe("OK");
    expect(await client.get(a)).toBeNull();
    expect(await client.get(b)).toBe("2");
    expect(await client.shard("s1").info("server")).toMatch(/redis_version:/);
    const [cursor, keys] = await client.shard("s1").scan(0, "COUNT", 100);
    expect(cursor).toBe("0");
    expect(keys).toEqual([b]);
    expect(client.shard("s2").master).toBe(fleet.servers[2]!.address);
    expect(client.shard("s2")).toBe(client.shard("s2"));
    expect(() => client.shard("s9")).toThrow(UnknownShardError);
    await expect(client.shard("s0").select(2)).rejects.toBeInstanceOf(UnsupportedCommandError);
  });

  it("supports node-style callbacks", async () => {
    await client.set("cb", "v");
    const value = await new Promise((resolve, reject) => client.get("cb", (err, v) => (err ? reject(err) : resolve(v))));
    expect(value).toBe("v");
    const error = await new Promise((resolve) => client.call("NOSUCHCMD", "k", (err: unknown) => resolve(err)));
    expect(error).toBeInstanceOf(UnknownCommandError);
  });

  it("shardOf rejects keys that are not strings or Buffers", () => {
    expect(() => client.shardOf(42 as unknown as string)).toThrow(InvalidArgumentError);
  });
});
