/**
 * The near cache on real redis-servers: repeated reads stay in process,
 * another client's write reaches every later read once Redis's
 * invalidation has arrived, this client's own writes are read back at
 * once (plain, split, pipelined, in a transaction, which drops only the
 * keys it wrote), array arguments share their flat form's entry, a lost
 * connection or a FLUSHALL empties only its shard, broadcast mode follows
 * its prefixes, and a server that cannot track leaves the shard uncached.
 */
import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { Redis } from "ioredis";
import { one, series } from "../support/metrics.js";
import { ConfigError, ShardedClient } from "../../lib/index.js";
import { fleetForFile } from "../support/fleet.js";
import { eventually, keyOn, keysOn } from "../support/keys.js";
import { startRedis, stopAll } from "../support/redis.js";
import { startFaultProxy } from "../support/faultProxy.js";

describe("near cache", () => {
  const context = fleetForFile(3);
  /** GET calls the shard's server has answered so far. */
  const serverGets = async (shard: number) => {
    const line = (await context.fleet.raw(shard).info("commandstats")).split("\n").find((l) => l.startsWith("cmdstat_get:"));
    return Number(/calls=(\d+)/.exec(line ?? "")?.[1] ?? 0);
  };
  const ready = async (c: ShardedClient) => {
    await c.ready();
    // Tracking is confirmed by the reply to CLIENT TRACKING, written first on each connection.
    await eventually(async () => expect(c.nearCacheStats().shards.filter((s) => s.tracking)).toHaveLength(3));
    return c;
  };

  it("answers repeated reads from memory: one GET reaches the server", async () => {
    const registry = new Registry();
    const c = await ready(context.fleet.client({ nearCache: {}, metrics: { registry, serverStatsIntervalMs: 0 } }));
    const key = keyOn(c, "s0", "near:one");
    await c.set(key, "v1");
    const before = await serverGets(0);
    const reads = [];
    for (let i = 0; i < 50; i++) reads.push(await c.get(key));
    expect(reads.every((v) => v === "v1")).toBe(true);
    // A pipeline's reads are ordinary calls: answered from memory too.
    expect(await c.pipeline().get(key).get(key).exec()).toEqual([
      [null, "v1"],
      [null, "v1"],
    ]);
    expect((await serverGets(0)) - before).toBe(1);
    const stats = c.nearCacheStats();
    expect(stats.hits).toBeGreaterThanOrEqual(49);
    expect(stats.entries).toBeGreaterThanOrEqual(1);
    expect(stats.shards.find((s) => s.shard === "s0")!.hits).toBeGreaterThanOrEqual(49);
    const all = await series(registry);
    expect(one(all, "shardis_near_cache_requests_total", { shard: "s0", result: "hit" })!.value).toBe(stats.shards.find((s) => s.shard === "s0")!.hits);
    expect(one(all, "shardis_near_cache_entries", { shard: "s0" })!.value).toBeGreaterThanOrEqual(1);
    expect(one(all, "shardis_near_cache_flushes_total", { shard: "s0", reason: "connection" })!.value).toBe(0);
    expect(all.some((s) => Object.values(s.labels).includes(key))).toBe(false);
  });

  it("never serves the old value once Redis's invalidation for another client's write has arrived", async () => {
    const c = await ready(context.fleet.client({ nearCache: {} }));
    for (let round = 0; round < 20; round++) {
      const key = keyOn(c, `s${round % 3}`, `near:other:${round}`);
      const raw = context.fleet.raw(round % 3);
      await raw.set(key, "old");
      expect(await c.get(key)).toBe("old");
      expect(await c.get(key)).toBe("old"); // cached now
      await raw.set(key, "new");
      // Once a read sees the new value, no later read may see the old one.
      await eventually(async () => expect(await c.get(key)).toBe("new"), 10_000);
      for (let i = 0; i < 20; i++) expect(await c.get(key)).toBe("new");
    }
    expect(c.nearCacheStats().invalidations).toBeGreaterThanOrEqual(20);
  });

  it("reads this client's own writes back at once: SET, DEL, INCR, HSET, MSET across shards, pipelines and transactions", async () => {
    const c = await ready(context.fleet.client({ nearCache: {} }));
    const k = keyOn(c, "s1", "near:own");
    const h = keyOn(c, "s2", "near:own:hash");
    for (let i = 0; i < 30; i++) {
      await c.set(k, `v${i}`);
      expect(await c.get(k)).toBe(`v${i}`);
      await c.hset(h, "f", `h${i}`);
      expect(await c.hget(h, "f")).toBe(`h${i}`);
      expect(await c.hgetall(h)).toEqual({ f: `h${i}` });
    }
    await c.del(k);
    expect(await c.get(k)).toBeNull();
    expect(await c.exists(k)).toBe(0);
    await c.incr(k);
    expect(await c.get(k)).toBe("1");
    const keys = ["s0", "s1", "s2"].map((s) => keyOn(c, s, "near:mset"));
    for (const key of keys) expect(await c.get(key)).toBeNull();
    await c.mset(Object.fromEntries(keys.map((key) => [key, "m"])));
    for (const key of keys) expect(await c.get(key)).toBe("m");
    await c.pipeline().set(keys[0]!, "p").exec();
    expect(await c.get(keys[0]!)).toBe("p");
    await c.multi().set(keys[1]!, "t").exec();
    expect(await c.get(keys[1]!)).toBe("t");
  });

  it("a MULTI/EXEC drops the keys its block wrote, not its shard: other entries stay in memory, the written key is read back (shared and dedicated connections)", async () => {
    const c = await ready(context.fleet.client({ nearCache: {} }));
    const [a, b] = keysOn(c, "s0", 2, "near:exec");
    await context.fleet.raw(0).mset(a!, "a0", b!, "b0");
    expect([await c.get(a!), await c.get(b!)]).toEqual(["a0", "b0"]);
    const gets = await serverGets(0);
    // On the shared (tracking) connection, as a library's MULTI would be.
    expect(await c.multi().set(a!, "a1").exec()).toEqual([[null, "OK"]]);
    expect(await c.get(b!)).toBe("b0");
    expect(await c.get(a!)).toBe("a1");
    // On a pooled connection: the block pipelined, then one begun with multi({ pipeline: false }), a read of the key in between.
    await c.withConnection(a!, async (conn) => {
      expect(await conn.multi().set(a!, "a2").exec()).toEqual([[null, "OK"]]);
      expect(await c.get(a!)).toBe("a2");
      await conn.multi({ pipeline: false });
      await conn.set(a!, "a3");
      // Runs before the block's EXEC: Redis's invalidation of it arrives on another connection than EXEC's reply.
      expect(await c.get(a!)).toBe("a2");
      expect(await conn.exec()).toEqual([[null, "OK"]]);
      expect(await c.get(a!)).toBe("a3");
    });
    for (let i = 0; i < 5; i++) expect(await c.get(b!)).toBe("b0");
    // b was never read again from Redis; a once after each of its three blocks and once inside the last.
    expect((await serverGets(0)) - gets).toBe(4);
    expect(c.nearCacheStats().shards.find((s) => s.shard === "s0")!.flushes.write).toBe(0);
  });

  it("reads with their arguments as one array (exists([k]), hmget(h, [f, g])) share the entries of the flat form", async () => {
    const c = await ready(context.fleet.client({ nearCache: { commands: ["get", "exists", "hmget"] } }));
    const k = keyOn(c, "s1", "near:array:k");
    const h = keyOn(c, "s1", "near:array:h");
    await context.fleet.raw(1).set(k, "v");
    await context.fleet.raw(1).hset(h, "f", "1", "g", "2");
    const calls = async (command: string) => {
      const line = (await context.fleet.raw(1).info("commandstats")).split("\n").find((l) => l.startsWith(`cmdstat_${command}:`));
      return Number(/calls=(\d+)/.exec(line ?? "")?.[1] ?? 0);
    };
    // ioredis takes HMGET's fields as one array too (its command builder flattens arguments); its types do not say so.
    const hmgetArray = (key: string, fields: string[]) => (c.hmget as unknown as (key: string, fields: string[]) => Promise<unknown>)(key, fields);
    const before = [await calls("exists"), await calls("hmget")];
    // The flat form fills; the array form then hits it, and leaves it in place for the flat form.
    expect(await c.exists(k)).toBe(1);
    expect(await c.hmget(h, "f", "g")).toEqual(["1", "2"]);
    for (let i = 0; i < 3; i++) {
      expect(await c.exists([k])).toBe(1);
      expect(await hmgetArray(h, ["f", "g"])).toEqual(["1", "2"]);
      expect(await c.exists(k)).toBe(1);
      expect(await c.hmget(h, "f", "g")).toEqual(["1", "2"]);
    }
    expect([(await calls("exists")) - before[0]!, (await calls("hmget")) - before[1]!]).toEqual([1, 1]);
    // And the other way round: the array form fills, the flat form hits.
    await context.fleet.raw(1).hset(h, "f", "3");
    await eventually(async () => expect(await hmgetArray(h, ["f", "g"])).toEqual(["3", "2"]), 10_000);
    const filled = await calls("hmget");
    expect(await c.hmget(h, "f", "g")).toEqual(["3", "2"]);
    expect(await hmgetArray(h, ["f", "g"])).toEqual(["3", "2"]);
    expect((await calls("hmget")) - filled).toBe(0);
  });

  it("answers MGET key by key from GET's entries: one MGET per shard for what is missing, nothing once cached; other types stay nil", async () => {
    const c = await ready(context.fleet.client({ nearCache: {} }));
    const keys = [0, 1, 2].map((i) => keyOn(c, `s${i}`, "near:mget"));
    const hash = keyOn(c, "s0", "near:mget:hash");
    const serverMgets = async () =>
      Promise.all([0, 1, 2].map(async (i) => {
        const line = (await context.fleet.raw(i).info("commandstats")).split("\n").find((l) => l.startsWith("cmdstat_mget:"));
        return Number(/calls=(\d+)/.exec(line ?? "")?.[1] ?? 0);
      }));
    await c.mset(keys[0]!, "a", keys[1]!, "b", keys[2]!, "c");
    await c.hset(hash, "f", "1");
    const start = await serverMgets();
    expect(await c.mget(...keys, hash)).toEqual(["a", "b", "c", null]);
    const first = await serverMgets();
    expect(first.map((n, i) => n - start[i]!)).toEqual([1, 1, 1]);
    // Cached now: MGET (either form) and GET of those keys send nothing; the hash's nil was not kept, GET still fails on it.
    expect(await c.mget(keys)).toEqual(["a", "b", "c"]);
    expect(await c.get(keys[1]!)).toBe("b");
    expect(await serverMgets()).toEqual(first);
    await expect(c.get(hash)).rejects.toThrow(/WRONGTYPE/);
    // Another client changes one key: the next MGET fetches that key alone, from its shard alone.
    await context.fleet.raw(1).set(keys[1]!, "B");
    await eventually(async () => expect(await c.mget(...keys)).toEqual(["a", "B", "c"]), 10_000);
    const after = await serverMgets();
    expect(after[0]! - first[0]! + after[2]! - first[2]!).toBe(0);
    // Buffers: each caller gets its own copy.
    const [buffer] = await c.mgetBuffer(keys[0]!);
    buffer!.write("z");
    expect((await c.mgetBuffer([keys[0]!]))[0]!.toString()).toBe("a");
    expect(c.nearCacheStats().hits).toBeGreaterThanOrEqual(7);
  });

  it("hotOnly caches the keys the detector ranks hot and reads the rest from Redis every time", async () => {
    const c = await ready(context.fleet.client({ nearCache: { hotOnly: true }, hotKeys: { topK: 2, sampleEvery: 1, windowMs: 3_600_000 } }));
    const hot = keyOn(c, "s0", "near:hotonly:hot");
    const warm = keyOn(c, "s0", "near:hotonly:warm");
    const cold = Array.from({ length: 20 }, (_, i) => keyOn(c, "s0", `near:hotonly:cold:${i}`));
    for (const key of [hot, warm, ...cold]) await context.fleet.raw(0).set(key, key);
    for (let i = 0; i < 30; i++) {
      expect(await c.get(hot)).toBe(hot);
      if (i < 20) expect(await c.get(warm)).toBe(warm);
    }
    const coldBefore = await serverGets(0);
    for (const key of cold) for (let i = 0; i < 3; i++) expect(await c.get(key)).toBe(key);
    expect((await serverGets(0)) - coldBefore).toBe(60);
    const hotBefore = await serverGets(0);
    for (let i = 0; i < 100; i++) expect(await c.get(hot)).toBe(hot);
    expect((await serverGets(0)) - hotBefore).toBe(0);
    // Read from memory, the hot key stays ranked hot: changed elsewhere, it is fetched once and cached again.
    await context.fleet.raw(0).set(hot, "changed");
    await eventually(async () => expect(await c.get(hot)).toBe("changed"), 10_000);
    const again = await serverGets(0);
    for (let i = 0; i < 20; i++) expect(await c.get(hot)).toBe("changed");
    expect((await serverGets(0)) - again).toBe(0);
    expect(c.hotKeys().map((h) => h.key)).toContain(hot);
  });

  it("hotOnly: reads answered from memory keep a cached key ranked hot across windows, so a colder key never takes its place", async () => {
    const windowMs = 100;
    const c = await ready(context.fleet.client({ nearCache: { hotOnly: true }, hotKeys: { topK: 1, sampleEvery: 1, windowMs } }));
    const hot = keyOn(c, "s1", "near:hotonly:demand:hot");
    const colder = keyOn(c, "s1", "near:hotonly:demand:colder");
    await context.fleet.raw(1).set(hot, "h");
    await context.fleet.raw(1).set(colder, "c");
    for (let i = 0; i < 5; i++) expect(await c.get(hot)).toBe("h"); // cached: the only key its shard has seen
    const gets = async () => {
      const line = (await context.fleet.raw(1).info("commandstats")).split("\n").find((l) => l.startsWith("cmdstat_get:"));
      return Number(/calls=(\d+)/.exec(line ?? "")?.[1] ?? 0);
    };
    const before = await gets();
    let colderReads = 0;
    // Several windows turn while the hot key is read from memory only (5 reads to the colder key's 1, which goes to Redis).
    // Until the last complete window saw reads: one colder read slower than a window (a busy machine) leaves one empty.
    const started = performance.now();
    while ((performance.now() - started < 5 * windowMs || c.hotKeys().length === 0) && colderReads < 2000) {
      for (let i = 0; i < 5; i++) expect(await c.get(hot)).toBe("h");
      expect(await c.get(colder)).toBe("c");
      colderReads++;
    }
    // Taken before any further await: the last complete window is one of the loop's.
    const ranked = c.hotKeys().map((h) => h.key);
    // Every read of the colder key reached Redis (never ranked hot), and none of the hot key's did.
    expect((await gets()) - before).toBe(colderReads);
    expect(ranked).toEqual([hot]);
  });

  it("a lost connection empties its own shard only; FLUSHALL empties the shard it ran on", async () => {
    const c = await ready(context.fleet.client({ nearCache: {} }));
    const keys = ["s0", "s1", "s2"].map((s) => keyOn(c, s, "near:domain"));
    for (const [i, key] of keys.entries()) await context.fleet.raw(i).set(key, "v");
    for (const key of keys) expect(await c.get(key)).toBe("v");
    // Kill shardis's tracking connection on s0 (the one that turned tracking on).
    const clients = String(await context.fleet.raw(0).call("CLIENT", "LIST")).split("\n").filter((line) => line.includes("flags=t"));
    expect(clients.length).toBeGreaterThan(0);
    for (const line of clients) await context.fleet.raw(0).call("CLIENT", "KILL", "ID", /id=(\d+)/.exec(line)![1]!);
    await eventually(async () => expect(c.nearCacheStats().shards.find((s) => s.shard === "s0")!.flushes.connection).toBeGreaterThanOrEqual(1));
    const before = await Promise.all([0, 1, 2].map(serverGets));
    for (const key of keys) expect(await c.get(key)).toBe("v");
    const after = await Promise.all([0, 1, 2].map(serverGets));
    expect([after[0]! - before[0]!, after[1]! - before[1]!, after[2]! - before[2]!]).toEqual([1, 0, 0]);

    await eventually(async () => expect(c.nearCacheStats().shards.find((s) => s.shard === "s0")!.tracking).toBe(true));
    expect(await c.get(keys[0]!)).toBe("v");
    await context.fleet.raw(1).flushall();
    await eventually(async () => expect(await c.get(keys[1]!)).toBeNull(), 10_000);
    expect(c.nearCacheStats().shards.find((s) => s.shard === "s1")!.flushes.server).toBeGreaterThanOrEqual(1);
    expect(await c.get(keys[2]!)).toBe("v");
  });

  it("a read racing another client's write through a slow link (fault proxy delaying every chunk) never leaves a stale entry", async () => {
    const server = context.fleet.servers[0]!;
    const proxy = await startFaultProxy({ host: server.host, port: server.port });
    const c = new ShardedClient({ shards: [{ name: "p0", master: proxy.address }], nearCache: {}, commandTimeoutMs: 5000 });
    try {
      await c.ready();
      await eventually(async () => expect(c.nearCacheStats().shards[0]?.tracking).toBe(true));
      const raw = context.fleet.raw(0);
      const key = "near:race";
      await raw.set(key, "0");
      expect(await c.get(key)).toBe("0");
      proxy.set("delay", { delayMs: 60 });
      for (let round = 1; round <= 8; round++) {
        // The read leaves while the value changes twice: its reply may carry either value, or the one before.
        const read = c.get(key);
        await raw.set(key, `${round}a`);
        await raw.set(key, `${round}b`);
        await read;
        // Once the new value is seen, the cache must never answer anything else.
        await eventually(async () => expect(await c.get(key)).toBe(`${round}b`), 10_000);
        for (let i = 0; i < 5; i++) expect(await c.get(key)).toBe(`${round}b`);
      }
      proxy.set("pass");
      expect(c.nearCacheStats().hits).toBeGreaterThan(0);
    } finally {
      await c.quit();
      await proxy.close();
    }
  });

  it("a transaction on a pooled connection is read back once its EXEC is answered, even while Redis's invalidation is still on its way", async () => {
    const server = context.fleet.servers[2]!;
    const proxy = await startFaultProxy({ host: server.host, port: server.port });
    const c = new ShardedClient({ shards: [{ name: "p2", master: proxy.address }], nearCache: {}, commandTimeoutMs: 5000, breaker: { stallMs: 3000 } });
    try {
      await c.ready();
      await eventually(async () => expect(c.nearCacheStats().shards[0]?.tracking).toBe(true));
      const key = "near:exec:late";
      await context.fleet.raw(2).set(key, "old");
      // The tracking connection (open now) is slow; the pooled one opened next is not.
      proxy.set("delay", { delayMs: 200, onlyOpen: true });
      await c.withConnection("p2", async (conn) => {
        await conn.multi({ pipeline: false });
        await conn.set(key, "new");
        // Read (and kept) before the block runs; Redis will report the block's change to the tracking connection, late.
        expect(await c.get(key)).toBe("old");
        expect(await conn.exec()).toEqual([[null, "OK"]]);
        expect(await c.get(key)).toBe("new");
      });
    } finally {
      await c.quit();
      await proxy.close();
    }
  });

  it("client.cache() hits are served from the near cache: a fresh hit sends nothing; a set() elsewhere in the client is read back", async () => {
    const c = await ready(context.fleet.client({ nearCache: {} }));
    const users = c.cache<{ name: string }>({ namespace: "nearusers", ttlMs: 60_000 });
    let loads = 0;
    const load = async () => ({ name: `ada${++loads}` });
    expect(await users.getOrSet("1", load)).toEqual({ name: "ada1" });
    const shard = Number(c.shardOf("nearusers:1").slice(1));
    expect(await users.getOrSet("1", load)).toEqual({ name: "ada1" }); // read from Redis once more, now cached
    const before = await serverGets(shard);
    for (let i = 0; i < 20; i++) expect(await users.getOrSet("1", load)).toEqual({ name: "ada1" });
    expect((await serverGets(shard)) - before).toBe(0);
    await users.set("1", { name: "grace" });
    expect(await users.getOrSet("1", load)).toEqual({ name: "grace" });
    expect(loads).toBe(1);
  });

  it("broadcast mode caches keys under its prefixes and hears every change to them", async () => {
    const c = await ready(context.fleet.client({ nearCache: { mode: "broadcast", prefixes: ["users:"] } }));
    const user = keyOn(c, "s0", "users:near");
    const other = keyOn(c, "s0", "orders:near");
    await context.fleet.raw(0).mset(user, "u1", other, "o1");
    const before = await serverGets(0);
    for (let i = 0; i < 5; i++) expect([await c.get(user), await c.get(other)]).toEqual(["u1", "o1"]);
    // The user key was read once; the other key, outside the prefixes, every time.
    expect((await serverGets(0)) - before).toBe(6);
    await context.fleet.raw(0).set(user, "u2");
    await eventually(async () => expect(await c.get(user)).toBe("u2"), 10_000);
  });

  it("refuses RESP2 in the options (nutcracker needs it); a server that refuses tracking leaves its shard uncached, reads still served", async () => {
    expect(() => context.fleet.client({ nearCache: {}, redis: { protocol: 2 } })).toThrow(ConfigError);
    const server = await startRedis();
    // A user who may not run CLIENT: CLIENT TRACKING is refused (NOPERM), as by a proxy or an old server.
    await server.client().call("ACL", "SETUSER", "default", "on", "nopass", "~*", "&*", "+@all", "-client");
    const c = new ShardedClient({ shards: [{ name: "t0", master: server.address }], redis: { disableClientInfo: true } as never, nearCache: {} });
    const errors: string[] = [];
    // An ACL's refusal is reported once, as acl:refused (docs/high-availability.md); nearcache:error is for other failures.
    c.on("nearcache:error", ({ shard, error }) => errors.push(`${shard}: ${error.message}`));
    c.on("acl:refused", ({ shard, command, error }) => errors.push(`${shard}: ${command}: ${error.message}`));
    try {
      await c.set("near:refused", "p");
      await eventually(async () => expect(errors.length).toBeGreaterThan(0));
      expect(errors[0]).toMatch(/^t0: CLIENT TRACKING: .*NOPERM/);
      for (let i = 0; i < 3; i++) expect(await c.get("near:refused")).toBe("p");
      expect(c.nearCacheStats()).toMatchObject({ entries: 0, hits: 0 });
      expect(c.nearCacheStats().shards[0]!.tracking).toBe(false);
    } finally {
      await c.quit();
      await stopAll([server]);
    }
  });

  it("hooks invalidation messages on its own connections only: the application's other ioredis clients are left as ioredis made them", async () => {
    const c = await ready(context.fleet.client({ nearCache: {} }));
    const server = context.fleet.servers[0]!;
    // The application's own RESP3 client with tracking on: ioredis drops invalidation pushes, and must keep doing so.
    const app = new Redis({ host: server.host, port: server.port, protocol: 3 });
    const heard: unknown[] = [];
    app.on("invalidate" as never, (keys: unknown) => heard.push(keys));
    try {
      await app.call("CLIENT", "TRACKING", "ON");
      const key = keyOn(c, "s0", "near:foreign");
      await app.get(key);
      await context.fleet.raw(0).set(key, "changed");
      // The push was written to the app's connection before the reply to this PING.
      await app.ping();
      expect(heard).toEqual([]);
      expect(await c.get(key)).toBe("changed");
    } finally {
      app.disconnect();
    }
  });
});
