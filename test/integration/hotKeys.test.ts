/**
 * The hot-key detector on real redis-servers: a skewed workload through
 * the client shows its hot key and hot shard in hotKeys(), shardLoads()
 * and the metrics; keys become labels only when asked.
 */
import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { fleetForFile, type Fleet } from "../support/fleet.js";
import { one, series } from "../support/metrics.js";

describe("hot keys", () => {
  const context = fleetForFile(3);
  const client = (options: Parameters<Fleet["client"]>[0]) => context.fleet.client(options);

  /** 3,000 commands: half on one key, the rest on 1,500 keys spread over the shards; SET, GET, INCR and MGET split across shards. */
  async function skewed(c: ReturnType<Fleet["client"]>, hot: string): Promise<void> {
    await c.set(hot, "0");
    for (let round = 0; round < 10; round++) {
      await Promise.all([
        ...Array.from({ length: 150 }, () => c.get(hot)),
        ...Array.from({ length: 148 }, (_, i) => c.set(`cold:${round}:${i}`, "v")),
        c.incr("counter"),
        c.mget(`cold:${round}:1`, `cold:${round}:2`, `cold:${round}:3`),
      ]);
    }
  }

  it("names the hot key, its shard and rate; the hot shard's load share and hot-key share stand out", async () => {
    const registry = new Registry();
    const c = client({ hotKeys: { topK: 5, windowMs: 60_000, sampleEvery: 1 }, metrics: { registry, serverStatsIntervalMs: 0 } });
    const hot = "user:{hot}:profile";
    await skewed(c, hot);
    const keys = c.hotKeys();
    expect(keys.length).toBeLessThanOrEqual(5);
    expect(keys[0]).toMatchObject({ key: hot, shard: c.shardOf(hot), count: 1501 });
    expect(keys[0]!.rate).toBeGreaterThan(0);
    const loads = c.shardLoads();
    const hotShard = loads.find((l) => l.shard === c.shardOf(hot))!;
    const others = loads.filter((l) => l !== hotShard);
    expect(loads.reduce((sum, l) => sum + l.commands, 0)).toBeGreaterThanOrEqual(3000);
    expect(hotShard.loadShare).toBeGreaterThan(0.5);
    expect(hotShard.hotKeyShare).toBeGreaterThan(0.7);
    for (const other of others) expect(other.hotKeyShare).toBeLessThan(hotShard.hotKeyShare / 3);

    const all = await series(registry);
    expect(one(all, "shardis_shard_load_share", { shard: hotShard.shard })!.value).toBeCloseTo(hotShard.loadShare, 6);
    expect(one(all, "shardis_hot_key_share", { shard: hotShard.shard })!.value).toBeCloseTo(hotShard.hotKeyShare, 6);
    // No key is a label unless asked.
    expect(all.filter((s) => s.name === "shardis_hot_key_rate")).toEqual([]);
    expect(all.some((s) => Object.values(s.labels).includes(hot))).toBe(false);
  });

  it("exports at most topK key series with metrics.hotKeyLabels", async () => {
    const registry = new Registry();
    const c = client({ hotKeys: { topK: 3, windowMs: 60_000, sampleEvery: 1 }, metrics: { registry, serverStatsIntervalMs: 0, hotKeyLabels: true } });
    const hot = "hot:" + "k".repeat(100);
    await skewed(c, hot);
    const rates = (await series(registry)).filter((s) => s.name === "shardis_hot_key_rate");
    expect(rates).toHaveLength(3);
    const top = rates.sort((a, b) => b.value - a.value)[0]!;
    expect(top.labels.shard).toBe(c.shardOf(hot));
    expect(String(top.labels.key)).toMatch(/^hot:k+…#[0-9a-f]{8}$/);
    expect(String(top.labels.key).length).toBeLessThanOrEqual(64);
  });

  it("is off with hotKeys: false: nothing reported, nothing exported", async () => {
    const registry = new Registry();
    const c = client({ hotKeys: false, metrics: { registry, serverStatsIntervalMs: 0 } });
    await skewed(c, "off:hot");
    expect(c.hotKeys()).toEqual([]);
    expect(c.shardLoads()).toEqual([]);
    const all = await series(registry);
    expect(all.filter((s) => /hot_key|load_share/.test(s.name))).toEqual([]);
    expect(all.filter((s) => s.name === "shardis_commands_total").length).toBeGreaterThan(0);
  });
});
