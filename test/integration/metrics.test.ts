/**
 * Metrics against real redis-server processes: exact counts after a known
 * workload, INFO-derived figures that follow the server, breaker state when
 * a node stops, bounded label sets, and how the export shares a registry.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Counter, Registry, register as globalRegistry } from "prom-client";
import { ConfigError, ShardedClient } from "../../lib/index.js";
import { startFleet, watchUnhandled, type Fleet } from "../support/fleet.js";
import { eventually } from "../support/keys.js";
import { one, series, total } from "../support/metrics.js";
import { startRedis, type RedisServer } from "../support/redis.js";

describe("metrics", () => {
  let fleet: Fleet;
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    fleet = await startFleet(3);
  });
  afterAll(async () => {
    unhandled.stop();
    await fleet?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("after a known workload, the registry's counts match it exactly, per shard", async () => {
    await fleet.flushAll();
    const registry = new Registry();
    const c = fleet.client({ metrics: { registry, serverStatsIntervalMs: 0 } });
    const N = 300;
    const written = Array.from({ length: N }, (_, i) => `known:${i}`);
    await Promise.all(written.map((k) => c.set(k, "v")));
    // M gets: H of written keys (hits), the rest of keys never written (misses).
    const H = 170;
    const M = 250;
    const reads = [...written.slice(0, H), ...Array.from({ length: M - H }, (_, i) => `absent:${i}`)];
    await Promise.all(reads.map((k) => c.get(k)));
    // One MGET across shards: 4 hits, 6 misses, counted per key on each key's shard.
    const mgetKeys = [...written.slice(0, 4), ...Array.from({ length: 6 }, (_, i) => `absent-m:${i}`)];
    await c.mget(...mgetKeys);
    // A Redis error reply: outcome "error".
    await c.set("known:list", "x");
    await expect(c.lpush("known:list", "y")).rejects.toThrow(/WRONGTYPE/);

    const all = await series(registry);
    expect(total(all, "shardis_commands_total", { command: "set", outcome: "ok" })).toBe(N + 1);
    expect(total(all, "shardis_commands_total", { command: "get", outcome: "ok" })).toBe(M);
    expect(total(all, "shardis_commands_total", { command: "lpush", outcome: "error" })).toBe(1);
    expect(total(all, "shardis_commands_total", { outcome: "timeout" })).toBe(0);
    expect(total(all, "shardis_command_duration_seconds_count", { command: "get" })).toBe(M);
    expect(total(all, "shardis_cache_hits_total")).toBe(H + 4);
    expect(total(all, "shardis_cache_misses_total")).toBe(M - H + 6);
    for (const shard of ["s0", "s1", "s2"]) {
      const hits = [...reads.slice(0, H), ...mgetKeys.slice(0, 4)].filter((k) => c.shardOf(k) === shard).length;
      const misses = [...reads.slice(H), ...mgetKeys.slice(4)].filter((k) => c.shardOf(k) === shard).length;
      expect(one(all, "shardis_cache_hits_total", { shard })!.value).toBe(hits);
      expect(one(all, "shardis_cache_misses_total", { shard })!.value).toBe(misses);
      const sets = written.filter((k) => c.shardOf(k) === shard).length + (c.shardOf("known:list") === shard ? 1 : 0);
      expect(one(all, "shardis_commands_total", { shard, command: "set", outcome: "ok" })!.value).toBe(sets);
      // Histogram: +Inf bucket equals the count; buckets never decrease.
      const buckets = all.filter((s) => s.name === "shardis_command_duration_seconds_bucket" && s.labels.shard === shard && s.labels.command === "set");
      expect(buckets.at(-1)!.labels.le).toBe("+Inf");
      expect(buckets.at(-1)!.value).toBe(sets);
      expect(buckets.every((b, i) => i === 0 || b.value >= buckets[i - 1]!.value)).toBe(true);
    }
    // stats() reports the same figures.
    const stats = c.stats();
    expect(stats.shards.reduce((n, s) => n + s.hits, 0)).toBe(H + 4);
    expect(stats.shards.reduce((n, s) => n + (s.byCommand.get?.master?.outcomes.ok ?? 0), 0)).toBe(M);
    const s0 = stats.shards[0]!;
    expect(s0.hitRatio).toBeCloseTo(s0.hits / (s0.hits + s0.misses), 10);
    expect(s0.latency.p99Ms).toBeGreaterThan(0);
    expect(stats.nodes.map((n) => n.node).sort()).toEqual(fleet.servers.map((s) => s.address).sort());
    // Auto-pipelining shows in batch sizes: 300 SETs in one turn are far fewer than 300 writes.
    expect(total(all, "shardis_pipeline_batch_size_sum")).toBeGreaterThanOrEqual(N + M);
    expect(total(all, "shardis_pipeline_batch_size_count")).toBeLessThan(N / 3);
  });

  it("is off when metrics is omitted: nothing is registered anywhere, stats() still counts", async () => {
    const before = (await globalRegistry.getMetricsAsJSON()).length;
    const c = fleet.client();
    await c.set("off:1", "v");
    expect(await c.get("off:1")).toBe("v");
    expect((await globalRegistry.getMetricsAsJSON()).length).toBe(before);
    expect(globalRegistry.getSingleMetric("shardis_commands_total")).toBeUndefined();
    expect(c.stats().shards.reduce((n, s) => n + s.hits, 0)).toBe(1);
  });

  it("keeps label sets bounded: 100k distinct keys and unknown commands add no series", async () => {
    const registry = new Registry();
    const c = fleet.client({ metrics: { registry, serverStatsIntervalMs: 0 } });
    // Warm up: every shard has seen SET and GET, in pipelines, so their series exist.
    const warm = c.pipeline();
    for (let i = 0; i < 30; i++) warm.set(`warm:${i}`, "1").get(`warm:${i}`);
    await warm.exec();
    const key = (s: { name: string; labels: Record<string, string | number> }) => `${s.name}${JSON.stringify(s.labels)}`;
    const before = new Set((await series(registry)).map(key));
    for (let batch = 0; batch < 100; batch++) {
      const p = c.pipeline();
      for (let i = 0; i < 1000; i++) p.set(`card:${batch}:${i}`, "1").get(`card:${batch}:${i}`);
      await p.exec();
    }
    for (let i = 0; i < 50; i++) await c.shard("s0").call(`NOSUCHCOMMAND${i}`).catch(() => undefined);
    const all = await series(registry);
    // 100k keys add nothing; 50 unknown commands add the series of one command label, "other".
    const added = all.filter((s) => !before.has(key(s)));
    expect(added.length).toBeGreaterThan(0);
    expect(added.filter((s) => s.labels.command !== "other")).toEqual([]);
    expect(all.length).toBeLessThan(300);
    expect(total(all, "shardis_commands_total", { command: "other", outcome: "error" })).toBe(50);
    const labelValues = new Set(all.flatMap((s) => Object.values(s.labels).map(String)));
    expect([...labelValues].filter((v) => v.includes("card:") || /nosuch/i.test(v))).toEqual([]);
    expect(total(all, "shardis_cache_hits_total")).toBe(100_030);
  }, 60_000);

  it("shows a stopped node's breaker opening and closing again", async () => {
    const registry = new Registry();
    const c = fleet.client({ metrics: { registry, serverStatsIntervalMs: 0 }, breaker: { resetTimeoutMs: 200 } });
    const node = fleet.servers[1]!;
    const labels = { shard: "s1", node: node.address };
    await c.shard("s1").ping();
    expect(one(await series(registry), "shardis_breaker_state", labels)!.value).toBe(0);
    node.signal("SIGSTOP");
    try {
      const key = Array.from({ length: 100 }, (_, i) => `b:${i}`).find((k) => c.shardOf(k) === "s1")!;
      await eventually(async () => {
        await c.get(key).catch(() => undefined);
        expect(one(await series(registry), "shardis_breaker_state", labels)!.value).toBe(2);
      });
    } finally {
      node.signal("SIGCONT");
    }
    await eventually(async () => expect(one(await series(registry), "shardis_breaker_state", labels)!.value).toBe(0));
    const all = await series(registry);
    expect(one(all, "shardis_breaker_transitions_total", { ...labels, state: "open" })!.value).toBeGreaterThanOrEqual(1);
    expect(one(all, "shardis_breaker_transitions_total", { ...labels, state: "closed" })!.value).toBeGreaterThanOrEqual(1);
    expect(total(all, "shardis_commands_total", { shard: "s1", outcome: "timeout" })).toBeGreaterThanOrEqual(1);
    expect(c.stats().nodes.find((n) => n.node === node.address)!.breaker).toBe("closed");
  });

  it("shares a registry between clients (sums them), refuses a name clash, and leaves with the last client", async () => {
    const registry = new Registry();
    const a = new ShardedClient({ shards: fleet.shards, metrics: { registry, serverStatsIntervalMs: 0 } });
    const b = new ShardedClient({ shards: fleet.shards, metrics: { registry, serverStatsIntervalMs: 0 } });
    await Promise.all([a.get("shared:1"), b.get("shared:1"), b.get("shared:2")]);
    expect(total(await series(registry), "shardis_cache_misses_total")).toBe(3);
    new Counter({ name: "taken_commands_total", help: "an app's own metric", registers: [registry] });
    expect(() => new ShardedClient({ shards: fleet.shards, metrics: { registry, prefix: "taken_" } })).toThrow(ConfigError);
    await a.quit();
    expect(total(await series(registry), "shardis_cache_misses_total")).toBe(2);
    await b.quit();
    expect(registry.getSingleMetric("shardis_cache_misses_total")).toBeUndefined();
  });
});

describe("server figures from INFO", () => {
  let master: RedisServer;
  let replica: RedisServer;
  const clients: ShardedClient[] = [];

  beforeAll(async () => {
    master = await startRedis({ args: ["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"] });
    replica = await startRedis({ args: ["--replicaof", master.host, String(master.port)] });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    await replica?.stop();
    await master?.stop();
  });

  it("follow the server: evictions under a small maxmemory, memory, clients, replication lag", async () => {
    const registry = new Registry();
    const c = new ShardedClient({
      shards: [{ name: "s0", master: master.address, replicas: [replica.address] }],
      metrics: { registry, serverStatsIntervalMs: 100 },
    });
    clients.push(c);
    const m = { shard: "s0", node: master.address };
    const r = { shard: "s0", node: replica.address };
    await eventually(async () => {
      const all = await series(registry);
      expect(one(all, "shardis_server_maxmemory_bytes", m)!.value).toBe(4 * 1024 * 1024);
      expect(one(all, "shardis_server_evicted_keys_total", m)!.value).toBe(0);
      expect(one(all, "shardis_server_connected_clients", m)!.value).toBeGreaterThanOrEqual(1);
      expect(one(all, "shardis_replication_lag_bytes", r)).toBeDefined();
      expect(one(all, "shardis_replication_lag_seconds", r)).toBeDefined();
    });
    const usedBefore = one(await series(registry), "shardis_server_used_memory_bytes", m)!.value;
    const value = "x".repeat(1024);
    for (let batch = 0; batch < 20; batch++) {
      const p = c.pipeline();
      for (let i = 0; i < 500; i++) p.set(`evict:${batch}:${i}`, value);
      await p.exec();
    }
    await eventually(async () => {
      const all = await series(registry);
      expect(one(all, "shardis_server_evicted_keys_total", m)!.value).toBeGreaterThan(0);
      expect(one(all, "shardis_server_used_memory_bytes", m)!.value).toBeGreaterThan(usedBefore);
    });
    await c.get("evict:19:499");
    await eventually(async () => {
      const all = await series(registry);
      expect(one(all, "shardis_server_keyspace_hits_total", m)!.value + one(all, "shardis_server_keyspace_misses_total", m)!.value).toBeGreaterThan(0);
      // The replica catches up with the writes above: no bytes left to apply.
      expect(one(all, "shardis_replication_lag_bytes", r)!.value).toBe(0);
    });
    const node = c.stats().nodes.find((n) => n.node === master.address)!;
    expect(node.server!.evictedKeys).toBeGreaterThan(0);
    expect(node.server!.maxmemoryBytes).toBe(4 * 1024 * 1024);
  });
});
