import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError, ShardedClient } from "../../lib/index.js";
import { startFleet, type Fleet } from "../support/fleet.js";

async function collect<T>(stream: AsyncIterable<T[]>): Promise<T[]> {
  const all: T[] = [];
  for await (const chunk of stream) {
    expect(Array.isArray(chunk)).toBe(true);
    all.push(...chunk);
  }
  return all;
}

describe("scans across shards", () => {
  let fleet: Fleet;
  let client: ShardedClient;
  const keys = Array.from({ length: 3000 }, (_, i) => `scan:${i}`);

  beforeAll(async () => {
    fleet = await startFleet(3);
    client = fleet.client();
    await client.mset(Object.fromEntries(keys.map((k) => [k, "v"])));
    await client.hset("scan:hash", "f", "v");
  });
  afterAll(async () => fleet?.stop());

  it("yields every key of every shard exactly once", async () => {
    const seen = await collect<string>(client.scanStream({ count: 100 }));
    expect(seen.length).toBe(keys.length + 1);
    expect(new Set(seen).size).toBe(seen.length);
    expect(new Set(seen)).toEqual(new Set([...keys, "scan:hash"]));
  });

  it("passes MATCH and TYPE to every shard", async () => {
    const matched = await collect<string>(client.scanStream({ match: "scan:1??", count: 500 }));
    expect(matched.sort()).toEqual(keys.filter((k) => /^scan:1\d\d$/.test(k)).sort());
    expect(await collect<string>(client.scanStream({ type: "hash" }))).toEqual(["scan:hash"]);
    expect((await collect<string>(client.scanStream({ count: 1000, dedupe: true }))).length).toBe(keys.length + 1);
  });

  it("streams Buffers with scanBufferStream, and one shard with shard(name).scanStream", async () => {
    const binary = Buffer.from([0xff, 0x00, 0x01]);
    await client.set(binary, "b");
    const all = await collect<Buffer>(client.scanBufferStream({ count: 1000 }));
    expect(all.some((k) => k.equals(binary))).toBe(true);
    await client.del(binary);
    const onS1 = await collect<string>(client.shard("s1").scanStream({ count: 1000 }));
    expect(onS1.length).toBe(await client.shard("s1").dbsize());
    expect(onS1.every((k) => client.shardOf(k) === "s1")).toBe(true);
  });

  it("forEachShard runs on every shard and returns results in shard order", async () => {
    const sizes = await client.forEachShard(async (name, shard) => [name, await shard.dbsize()] as const);
    expect(sizes.map(([name]) => name)).toEqual(["s0", "s1", "s2"]);
    expect(sizes.reduce((sum, [, size]) => sum + size, 0)).toBe(keys.length + 1);
  });

  it("rejects bad options", () => {
    expect(() => client.scanStream({ count: 0 })).toThrow(InvalidArgumentError);
    expect(() => client.scanStream({ mach: "x" } as never)).toThrow(InvalidArgumentError);
  });
});
