import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { Registry, register as globalRegistry } from "prom-client";
import { resolveOptions } from "../../lib/config/resolve.js";
import { ConfigError } from "../../lib/errors.js";
import { FAMILIES } from "../../lib/metrics/exporter.js";
import { sumByLabels } from "../../lib/metrics/exporter.js";
import { Histogram } from "../../lib/metrics/histogram.js";
import { commandLabel, Meters } from "../../lib/metrics/meters.js";
import { readServerFigures } from "../../lib/metrics/serverStats.js";
import { buildStats } from "../../lib/metrics/stats.js";
import { ShardisCommand } from "../../lib/commands/command.js";

const shards = [{ name: "s0", master: "127.0.0.1:7000" }];

function problemsOf(metrics: unknown, tracing?: unknown): string[] {
  try {
    resolveOptions({ shards, metrics, tracing });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  return [];
}

describe("histogram", () => {
  it("counts per bucket, cumulates, and estimates quantiles as histogram_quantile does", () => {
    const h = new Histogram([1, 2, 4]);
    for (const v of [0.5, 1, 1.5, 3, 3, 10]) h.observe(v);
    expect([...h.counts]).toEqual([2, 1, 2, 1]);
    expect(h.cumulative()).toEqual([2, 3, 5, 6]);
    expect(h.count).toBe(6);
    expect(h.sum).toBe(19);
    // rank 3 of 6 falls at the top of the (1, 2] bucket.
    expect(h.quantile(0.5)).toBe(2);
    // rank 1.5 of 6, inside the first bucket (0, 1]: 1.5 of its 2.
    expect(h.quantile(0.25)).toBe(0.75);
    // Above the last bound: the last bound.
    expect(h.quantile(1)).toBe(4);
    expect(new Histogram([1]).quantile(0.5)).toBeNull();
    const copy = h.copy();
    copy.merge(h);
    expect(copy.count).toBe(12);
    expect(h.count).toBe(6);
  });
});

/** A command the node answered: with a reply (ok) or a Redis error reply. */
function settled(name: string, ok: boolean): ShardisCommand {
  const cmd = new ShardisCommand(name);
  if (ok) cmd.resolve("OK");
  else {
    cmd.promise.catch(() => undefined);
    cmd.rejectFinal(new Error("ERR"));
  }
  return cmd;
}

describe("labels", () => {
  it("names known commands in lower case and every other name 'other'", () => {
    expect(commandLabel("GET")).toBe("get");
    expect(commandLabel("hset")).toBe("hset");
    expect(commandLabel("NOSUCHCOMMAND")).toBe("other");
    expect(commandLabel("user:1234")).toBe("other");
  });

  it("keeps one figures object per label however many raw names map to it", () => {
    const meters = new Meters(["s0"], [0.001], [1]);
    const meter = meters.role(0, "master");
    for (let i = 0; i < 5000; i++) meter.answered(settled(`unknown${i}`, false), 0.0005);
    meter.answered(settled("GET", true), 0.0005);
    meter.answered(settled("get", true), 0.0005);
    expect([...meter.commands()].map((c) => [c.command, c.outcomes.ok, c.outcomes.error])).toEqual([
      ["other", 0, 5000],
      ["get", 2, 0],
    ]);
  });

  it("sums samples of several clients with identical series", () => {
    const summed = sumByLabels([
      { labels: { shard: "s0", outcome: "ok" }, value: 2 },
      { labels: { outcome: "ok", shard: "s0" }, value: 3 },
      { labels: { shard: "s1", outcome: "ok" }, value: 1 },
      { metricName: "x_bucket", labels: { shard: "s0", le: "+Inf" }, value: 4 },
      { metricName: "x_count", labels: { shard: "s0", le: "+Inf" }, value: 4 },
    ]);
    expect(summed.map((s) => s.value)).toEqual([5, 1, 4, 4]);
  });
});

describe("server figures", () => {
  it("reads INFO fields as numbers, and the offset by role", () => {
    const info = [
      "# Stats", "keyspace_hits:12", "keyspace_misses:3", "evicted_keys:7", "expired_keys:2",
      "# Memory", "used_memory:1048576", "maxmemory:0", "# Clients", "connected_clients:5",
      "# Replication", "role:slave", "slave_repl_offset:900", "master_repl_offset:1000",
    ].join("\r\n");
    const f = readServerFigures(info, 1);
    expect(f).toEqual({
      keyspaceHits: 12, keyspaceMisses: 3, evictedKeys: 7, expiredKeys: 2, usedMemoryBytes: 1048576,
      maxmemoryBytes: 0, connectedClients: 5, replicationOffset: 900, at: 1,
    });
    expect(readServerFigures(info.replace("role:slave", "role:master"), 1).replicationOffset).toBe(1000);
  });
});

describe("stats", () => {
  it("reports hits, ratio and outcomes per shard from the meters", () => {
    const meters = new Meters(["s0", "s1"], [0.001, 0.01], [1, 10]);
    const m = meters.role(0, "master");
    m.answered(settled("get", true), 0.0005);
    m.answered(settled("get", true), 0.005);
    m.failed("get", "timeout");
    m.hits = 3;
    m.misses = 1;
    meters.role(0, "replica").hits = 1;
    const stats = buildStats({ shards: meters.shards, nodeMeters: [...meters.allNodes()], nodes: [], refusals: [], caches: [], hot: undefined });
    expect(stats.shards[0]!.commands.ok).toBe(2);
    expect(stats.shards[0]!.commands.timeout).toBe(1);
    expect(stats.shards[0]!.hits).toBe(4);
    expect(stats.shards[0]!.hitRatio).toBe(0.8);
    expect(stats.shards[0]!.latency.count).toBe(2);
    expect(stats.shards[0]!.byCommand.get!.master!.outcomes.timeout).toBe(1);
    expect(stats.shards[1]!.hitRatio).toBeNull();
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
  });
});

describe("metrics options", () => {
  it("are off by default, and default the registry, prefix, interval and buckets when on", () => {
    expect(resolveOptions({ shards }).metrics).toBeUndefined();
    const on = resolveOptions({ shards, metrics: {} }).metrics!;
    expect(on.registry).toBe(globalRegistry);
    expect(on.prefix).toBe("shardis_");
    expect(on.serverStatsIntervalMs).toBe(10_000);
    expect(on.latencyBuckets[0]).toBe(0.0001);
    expect(resolveOptions({ shards }).tracing).toEqual({ includeArgs: false });
  });

  it("keep the caller's registry unfrozen", () => {
    const registry = new Registry();
    const resolved = resolveOptions({ shards, metrics: { registry, prefix: "app_cache_", serverStatsIntervalMs: 0 } });
    expect(resolved.metrics!.registry).toBe(registry);
    expect(Object.isFrozen(registry)).toBe(false);
    expect(resolved.metrics!.serverStatsIntervalMs).toBe(0);
  });

  it("list every problem", () => {
    expect(problemsOf("yes")).toEqual([expect.stringMatching(/^metrics must be an object/)]);
    const problems = problemsOf({ registry: {}, prefix: "9bad-", serverStatsIntervalMs: 50, latencyBuckets: [0.1, 0.05], extra: 1 }, { includeArgs: "yes", x: 1 });
    expect(problems).toEqual([
      "unknown option in metrics 'extra'",
      expect.stringMatching(/^metrics.registry must be a prom-client Registry/),
      expect.stringMatching(/^metrics.prefix must be/),
      expect.stringMatching(/^metrics.serverStatsIntervalMs must be an integer 0 \(off\) or from 100/),
      "metrics.latencyBuckets must be 1 to 50 increasing positive numbers of seconds",
      "unknown option in tracing 'x'",
      expect.stringMatching(/^tracing.includeArgs must be true or false/),
    ]);
  });
});

describe("grafana dashboard", () => {
  it("parses, and every query uses only metrics shardis exports", () => {
    const dashboard = JSON.parse(readFileSync(new URL("../../docs/grafana-dashboard.json", import.meta.url), "utf8"));
    const exprs: string[] = dashboard.panels.flatMap((p: { targets?: Array<{ expr: string }> }) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(8);
    const names = new Set(
      FAMILIES.flatMap((f) => (f.type === "histogram" ? ["_bucket", "_sum", "_count"].map((s) => `shardis_${f.name}${s}`) : [`shardis_${f.name}`])),
    );
    const used = exprs.flatMap((e) => e.match(/shardis_[a-z_]+/g) ?? []);
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((n) => !names.has(n))).toEqual([]);
  });
});
