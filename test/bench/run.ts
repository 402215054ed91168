/**
 * npm run bench: shardis against ioredis on this machine, in one run.
 *
 * Commands (50/50 GET/SET, one command per await):
 *   manual shard     ioredis (enableAutoPipelining) per node, keys routed by hand
 *   ioredis Cluster  ioredis Cluster (enableAutoPipelining) on a 3-master Redis Cluster
 *   shardis slots / shardis ketama
 *   shardis on Cluster       ShardedClient({ cluster }) on that same cluster
 *   shardis on Cluster nodes ShardedClient({ shards }) on the cluster's masters as plain
 *                            shards (same slot ranges as redis-cli's, so no MOVED)
 * Pipelines (batches of 100 mixed commands across the 3 shards):
 *   ioredis pipelines  one ioredis pipeline per node, split and reassembled by hand
 *   shardis pipeline   client.pipeline()
 * Live reshard: shardis on Cluster, then ioredis Cluster, each under load
 * while redis-cli moves slots away and back; ops/s and errors/s per second.
 * Cache (cacheBench.ts): the hit path against plain GET, and 4 processes
 * through key expiries (loader calls per expiry, p99 around an expiry).
 * Hot keys (hotKeysBench.ts): a Zipf load with the detector on and off, and
 * how much of the true top 10 it found.
 * Tracing (tracingBench.ts): OpenTelemetry spans for every call, shardis/otel
 * sampled and unsampled against the client untraced, the SDK's own cost per
 * span, near-cache hits traced and not (the call path without I/O), and
 * ioredis 5 with @opentelemetry/instrumentation-ioredis.
 * Near cache (nearCacheBench.ts): the same Zipf load, 95% GET, against one
 * node (shardis near cache, ioredis, node-redis with its client-side cache)
 * and on three shards (the busiest node's command rate, with and without).
 *
 * Growth (growthBench.ts, --only growth): a plain fleet grown 3 -> 4 and
 * shrunk 4 -> 3 under the cache service workload, by a migration and by a
 * plain switch, each run a fresh process: hit ratio, database loads/s and
 * p99 during the change against steady, failed commands.
 *
 * Per process (processBench.ts): each variant (shardis on one node, three
 * shards, near cache, cache hit path, on the cluster; ioredis, node-redis and
 * Valkey GLIDE as anchors) in several fresh processes: min / median / max,
 * GC time share, bytes promoted, live young generation per command.
 *
 * Every server is started here. Variants run forward then backward in
 * alternate rounds and ratios are taken within a round, then the median
 * across rounds is quoted: this machine is noisy, and only same-run ratios
 * are comparable.
 *
 * Flags: --rounds N (6) --seconds S (3) --inflight N (256) --batches N (16 in flight)
 *        --keys N (100000) --reshard-slots N (2000, 0 to skip) --cache-seconds N (8, 0 to skip) --hot-keys 0|1 --near-cache 0|1 --tracing 0|1
 *        --processes N (3 fresh processes per variant, 0 to skip) --process-seconds S (3) --process-variants "a,b"
 *        --growth-runs N (3 per variant, 0 to skip) --growth-phase-ms MS (5000)
 *        --only "name,name" --json FILE
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { Cluster, Redis } from "ioredis";
import { Registry } from "prom-client";
// The package as users get it (dist/, built by prebench): a loader's transform of lib/ would add its own costs.
import { keySlot, ShardedClient } from "shardis";
import { defaultSlotRanges } from "../../dist/sharding/slotMap.js";
import { startRedisMany, stopAll } from "../support/redis.js";
import { startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";
import { cacheBench } from "./cacheBench.js";
import { growthBench } from "./growthBench.js";
import { hotKeysBench } from "./hotKeysBench.js";
import { nearCacheBench } from "./nearCacheBench.js";
import { loadForProcesses, ON_CLUSTER, ONE_NODE, processBench } from "./processBench.js";
import { tracingBench } from "./tracingBench.js";
import {
  keyNames,
  median,
  preload,
  runBatchWorkload,
  runWorkload,
  type BatchOp,
  type RunResult,
  type Target,
} from "./workload.js";

const { values: flags } = parseArgs({
  options: {
    rounds: { type: "string", default: "6" },
    seconds: { type: "string", default: "3" },
    inflight: { type: "string", default: "256" },
    batches: { type: "string", default: "16" },
    keys: { type: "string", default: "100000" },
    "reshard-slots": { type: "string", default: "2000" },
    "cache-seconds": { type: "string", default: "8" },
    "hot-keys": { type: "string", default: "1" },
    "near-cache": { type: "string", default: "1" },
    tracing: { type: "string", default: "1" },
    processes: { type: "string", default: "3" },
    "growth-runs": { type: "string", default: "3" },
    "growth-phase-ms": { type: "string", default: "5000" },
    "process-seconds": { type: "string", default: "3" },
    "process-variants": { type: "string" },
    json: { type: "string" },
    only: { type: "string" },
  },
});
const rounds = Number(flags.rounds);
const wanted = flags.only?.split(",").map((n) => n.trim());
const base = { keys: Number(flags.keys), valueBytes: 100, durationMs: Number(flags.seconds) * 1000 };
const commands = { ...base, inflight: Number(flags.inflight) };
const pipelines = { ...base, inflight: Number(flags.batches), batchSize: 100 };

const log = (line = "") => process.stdout.write(`${line}\n`);

type Variants = Record<string, () => Promise<RunResult>>;
type Ratio = [label: string, numerator: string, denominator: string, target?: number];

async function main(): Promise<void> {
  log(`shardis bench: node ${process.version}, ${cpus().length} cores, ${rounds} rounds x ${base.durationMs / 1000}s per variant`);
  // The growth section starts servers of its own: alone, it needs none of the ones below (nor their 200k preloaded keys).
  if (wanted?.every((name) => name === "growth")) {
    const growth = await growthBench({ runs: Number(flags["growth-runs"]), phaseMs: Number(flags["growth-phase-ms"]), log });
    if (flags.json) writeFileSync(flags.json, JSON.stringify({ growth }, null, 2));
    return;
  }
  const plain = await startRedisMany(3);
  const cluster = await startRedisCluster(3);
  const closers: Array<() => Promise<unknown>> = [];
  const report: Record<string, unknown> = { rounds, commands, pipelines };
  try {
    const shards = plain.map((s, i) => ({ name: `s${i}`, master: s.address }));
    const owner = new Uint8Array(16384);
    defaultSlotRanges([1, 1, 1]).forEach(([start, end], i) => owner.fill(i, start, end + 1));
    const nodeOf = (key: string) => owner[keySlot(key)]!;

    const autoPipelined = plain.map((s) => new Redis({ host: s.host, port: s.port, enableAutoPipelining: true }));
    const explicit = plain.map((s) => new Redis({ host: s.host, port: s.port }));
    const clusterClient = new Cluster([{ host: cluster.masters[0]!.host, port: cluster.masters[0]!.port }], {
      enableAutoPipelining: true,
    });
    // For the live reshard only: ioredis Cluster's auto-pipelining hands MOVED to callers while slots move (redis/ioredis#2075).
    const clusterPlain = new Cluster([{ host: cluster.masters[0]!.host, port: cluster.masters[0]!.port }]);
    const slots = new ShardedClient({ shards });
    // The hot-key detector is on by default: this one, without it, prices it.
    const unwatched = new ShardedClient({ shards, hotKeys: false });
    const onCluster = new ShardedClient({ cluster: { seeds: cluster.seeds } });
    // The cluster's masters in slot order get the same ranges from defaultSlotRanges as from redis-cli --cluster create.
    const onClusterNodes = new ShardedClient({ shards: cluster.masters.map((m, i) => ({ name: `c${i}`, master: m.address })) });
    const ketama = new ShardedClient({ shards, sharding: { strategy: "ketama" } });
    // Metrics exported as in production: a registry scraped every second, INFO read every second.
    const registry = new Registry();
    const metered = new ShardedClient({ shards, metrics: { registry, serverStatsIntervalMs: 1000 } });
    let scrapedBytes = 0;
    const scraper = setInterval(() => void registry.metrics().then((text) => (scrapedBytes = text.length)), 1000);
    closers.push(async () => clearInterval(scraper));
    for (const c of [...autoPipelined, ...explicit, clusterClient, clusterPlain, slots, unwatched, onCluster, onClusterNodes, ketama, metered]) closers.push(() => c.quit());

    const targets: Record<string, Target> = {
      "manual shard": {
        get: (k) => autoPipelined[nodeOf(k)]!.get(k),
        set: (k, v) => autoPipelined[nodeOf(k)]!.set(k, v),
      },
      "ioredis Cluster": { get: (k) => clusterClient.get(k), set: (k, v) => clusterClient.set(k, v) },
      "shardis slots": { get: (k) => slots.get(k), set: (k, v) => slots.set(k, v) },
      "shardis slots (hotKeys off)": { get: (k) => unwatched.get(k), set: (k, v) => unwatched.set(k, v) },
      "shardis ketama": { get: (k) => ketama.get(k), set: (k, v) => ketama.set(k, v) },
      "shardis slots + metrics": { get: (k) => metered.get(k), set: (k, v) => metered.set(k, v) },
      "shardis on Cluster": { get: (k) => onCluster.get(k), set: (k, v) => onCluster.set(k, v) },
      "shardis on Cluster nodes": { get: (k) => onClusterNodes.get(k), set: (k, v) => onClusterNodes.set(k, v) },
    };
    const keys = keyNames(base.keys);
    const value = "v".repeat(base.valueBytes);
    log("preloading keys...");
    await preload(targets["shardis ketama"]!, keys, value);
    await preload(targets["ioredis Cluster"]!, keys, value);

    log(`\n== commands: 50/50 GET/SET, ${commands.inflight} in flight, ${base.keys} keys, ${base.valueBytes}-byte values`);
    report.commandResults = await compare(
      Object.fromEntries(Object.entries(targets).map(([name, target]) => [name, () => runWorkload(target, keys, commands)])),
      [
        ["shardis slots / manual shard", "shardis slots", "manual shard", 0.95],
        ["shardis slots / ioredis Cluster", "shardis slots", "ioredis Cluster", 1.25],
        ["shardis slots / shardis slots (hotKeys off)", "shardis slots", "shardis slots (hotKeys off)", 0.98],
        ["shardis ketama / shardis slots", "shardis ketama", "shardis slots", 0.9],
        ["shardis ketama / manual shard", "shardis ketama", "manual shard"],
        ["shardis slots + metrics / manual shard", "shardis slots + metrics", "manual shard", 0.95],
        ["shardis slots + metrics / shardis slots", "shardis slots + metrics", "shardis slots"],
        ["shardis on Cluster / ioredis Cluster", "shardis on Cluster", "ioredis Cluster", 1.6],
        ["shardis on Cluster / on Cluster nodes", "shardis on Cluster", "shardis on Cluster nodes", 0.9],
      ],
    );
    log(`  (last scrape: ${scrapedBytes} bytes of exposition)`);

    log(`\n== pipelines: batches of ${pipelines.batchSize} mixed commands (40% GET, 30% SET, 10% INCR, 10% HSET, 10% HGET), ${pipelines.inflight} batches in flight`);
    report.pipelineResults = await compare(
      {
        "ioredis pipelines": () => runBatchWorkload({ exec: (ops, v) => manualPipelines(explicit, nodeOf, ops, v) }, keys, pipelines),
        "shardis pipeline": () => runBatchWorkload({ exec: (ops, v) => shardisPipeline(slots, ops, v) }, keys, pipelines),
        "shardis pipeline + metrics": () => runBatchWorkload({ exec: (ops, v) => shardisPipeline(metered, ops, v) }, keys, pipelines),
      },
      [
        ["shardis pipeline / ioredis pipelines", "shardis pipeline", "ioredis pipelines", 0.95],
        ["shardis pipeline + metrics / ioredis pipelines", "shardis pipeline + metrics", "ioredis pipelines", 0.95],
      ],
    );
    const reshardSlots = Number(flags["reshard-slots"]);
    if (reshardSlots > 0 && (!wanted || wanted.some((n) => n.includes("Cluster")))) {
      log(`\n== live reshard: ${commands.inflight} in flight; redis-cli --cluster reshard moves ${reshardSlots} slots from one master to another and back`);
      report.reshard = {
        "shardis on Cluster": await underReshard("shardis on Cluster", targets["shardis on Cluster"]!, keys, cluster, reshardSlots),
        "ioredis Cluster": await underReshard("ioredis Cluster", targets["ioredis Cluster"]!, keys, cluster, reshardSlots),
        "ioredis Cluster, no auto-pipelining": await underReshard(
          "ioredis Cluster, no auto-pipelining",
          { get: (k) => clusterPlain.get(k), set: (k, v) => clusterPlain.set(k, v) },
          keys,
          cluster,
          reshardSlots,
        ),
      };
    }
    const cacheSeconds = Number(flags["cache-seconds"]);
    if (cacheSeconds > 0 && (!wanted || wanted.some((n) => n.includes("cache")))) {
      report.cache = await cacheBench({ client: slots, shards, keys: base.keys, commands, seconds: cacheSeconds, log, compare });
    }
    if (flags["hot-keys"] !== "0" && (!wanted || wanted.some((n) => n.includes("zipf")))) {
      // One window for the whole section, so the detector's counts cover what the workload counted.
      const watched = new ShardedClient({ shards, hotKeys: { windowMs: 3_600_000 } });
      closers.push(() => watched.quit());
      report.hotKeys = await hotKeysBench({ watched, unwatched, keys, commands, log, compare });
    }
    if (flags.tracing !== "0" && (!wanted || wanted.some((n) => /otel|OTel/.test(n)))) {
      report.tracing = await tracingBench({ client: slots, nodes: autoPipelined, nodeOf, keys, commands, log, compare });
    }
    if (flags["near-cache"] !== "0" && (!wanted || wanted.some((n) => /near|node-redis|1 node|3 shards/.test(n)))) {
      report.nearCache = await nearCacheBench({ servers: plain, keys, commands, log, compare, closers });
    }
    const growthRuns = Number(flags["growth-runs"]);
    if (growthRuns > 0 && (!wanted || wanted.includes("growth"))) {
      report.growth = await growthBench({ runs: growthRuns, phaseMs: Number(flags["growth-phase-ms"]), log });
    }
    const processes = Number(flags.processes);
    if (processes > 0 && (!wanted || wanted.includes("per process"))) {
      const variants = flags["process-variants"]?.split(",").map((v) => v.trim()) ?? [...ONE_NODE, ...ON_CLUSTER];
      await loadForProcesses(plain[0]!.address, shards.map((s) => s.master), cluster.seeds, base.keys);
      report.processes = await processBench({
        single: plain[0]!.address,
        shards: shards.map((s) => s.master),
        seeds: cluster.seeds,
        keys: base.keys,
        inflight: commands.inflight,
        processes,
        seconds: Number(flags["process-seconds"]),
        variants,
        log,
      });
    }
    if (flags.json) writeFileSync(flags.json, JSON.stringify(report, null, 2));
  } finally {
    await Promise.allSettled(closers.map((close) => close()));
    await cluster.stop();
    await stopAll(plain);
  }
}

/** Runs the variants round after round (rotating their order), then prints medians and ratios. */
async function compare(all: Variants, ratios: Ratio[]): Promise<Record<string, RunResult[]>> {
  const names = Object.keys(all).filter((n) => !wanted || wanted.includes(n));
  for (const name of names) await all[name]!(); // warm-up, not counted
  const results: Record<string, RunResult[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < rounds; round++) {
    // Forward, then backward (A B C D, D C B A, ...): drift of the machine over time
    // then weighs on every variant alike instead of favouring the ones that run first.
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const result = await all[name]!();
      results[name]!.push(result);
      log(`round ${round + 1}/${rounds}  ${row(name, result)}`);
    }
  }
  log("medians over rounds:");
  for (const name of names) log(`  ${row(name, medianResult(results[name]!))}`);
  log("ratios (median of per-round ratios):");
  for (const [label, top, bottom, target] of ratios) {
    if (!results[top] || !results[bottom]) continue;
    const value = median(results[top].map((r, i) => r.opsPerSec / results[bottom]![i]!.opsPerSec));
    const verdict = target === undefined ? "" : `  target >= ${target}: ${value >= target ? "met" : "MISSED"}`;
    log(`  ${label.padEnd(38)} ${value.toFixed(2)}x${verdict}`);
  }
  return results;
}

/**
 * The closed-loop workload on a cluster while its slots move (a second of
 * load first and after): ops/s and errors/s for every second, printed as
 * they come, and the run's totals.
 */
async function underReshard(name: string, target: Target, keys: string[], cluster: RedisClusterHandle, slots: number) {
  const progress = { ops: 0, errors: 0 };
  const seconds: Array<{ ops: number; errors: number; moving: boolean }> = [];
  let moving = false;
  let last = { ops: 0, errors: 0 };
  const sampler = setInterval(() => {
    const now = { ...progress };
    const second = { ops: now.ops - last.ops, errors: now.errors - last.errors, moving };
    last = now;
    seconds.push(second);
    log(`  ${name.padEnd(35)} second ${String(seconds.length).padStart(3)}  ${String(second.ops).padStart(7)} ops/s  ${String(second.errors).padStart(5)} errors/s${moving ? "  (slots moving)" : ""}`);
  }, 1000);
  const [a, b] = [cluster.masters[0]!, cluster.masters[1]!];
  const reshard = (async () => {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    moving = true;
    await cluster.reshard(a, b, slots);
    await cluster.reshard(b, a, slots);
    await cluster.waitUntilStable();
    moving = false;
    await new Promise((resolve) => setTimeout(resolve, 1500));
  })();
  const result = await runWorkload(target, keys, { ...commands, until: reshard, progress });
  clearInterval(sampler);
  const during = seconds.filter((s) => s.moving);
  const steady = seconds.filter((s) => !s.moving);
  const summary = {
    seconds,
    errors: result.errors,
    medianOpsSteady: median(steady.map((s) => s.ops)),
    medianOpsMoving: median(during.map((s) => s.ops)),
    p99Ms: result.p99Ms,
  };
  log(
    `  ${name}: ${result.errors} failed commands; median ops/s ${Math.round(summary.medianOpsSteady)} steady, ` +
      `${Math.round(summary.medianOpsMoving)} while ${2 * slots} slots moved (${during.length} s); p99 ${result.p99Ms.toFixed(2)} ms`,
  );
  return summary;
}

/** What an application does with plain ioredis: one pipeline per node, results put back in order. */
async function manualPipelines(nodes: Redis[], nodeOf: (key: string) => number, ops: BatchOp[], value: string): Promise<unknown[]> {
  const pipes = nodes.map((n) => n.pipeline());
  const where: Array<[node: number, index: number]> = [];
  const counts = nodes.map(() => 0);
  for (const op of ops) {
    const node = nodeOf(op.key);
    addOp(pipes[node]!, op, value);
    where.push([node, counts[node]!++]);
  }
  const replies = await Promise.all(pipes.map((p, i) => (counts[i] ? p.exec() : Promise.resolve([]))));
  return where.map(([node, index]) => replies[node]![index]);
}

async function shardisPipeline(client: ShardedClient, ops: BatchOp[], value: string): Promise<unknown[]> {
  const pipeline = client.pipeline();
  for (const op of ops) addOp(pipeline, op, value);
  return (await pipeline.exec()) ?? [];
}

function addOp(pipeline: { get(k: string): unknown; set(k: string, v: string): unknown; incr(k: string): unknown; hset(k: string, f: string, v: string): unknown; hget(k: string, f: string): unknown }, op: BatchOp, value: string): void {
  switch (op.kind) {
    case "get":
      pipeline.get(op.key);
      break;
    case "set":
      pipeline.set(op.key, value);
      break;
    case "incr":
      pipeline.incr(op.key);
      break;
    case "hset":
      pipeline.hset(op.key, "f", value);
      break;
    case "hget":
      pipeline.hget(op.key, "f");
      break;
  }
}

function row(name: string, r: RunResult): string {
  return `${name.padEnd(17)} ${Math.round(r.opsPerSec).toString().padStart(8)} ops/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  cpu ${r.cpuMicrosPerOp.toFixed(2)} us/op${r.errors ? `  errors ${r.errors}` : ""}`;
}

function medianResult(runs: RunResult[]): RunResult {
  const pick = (f: (r: RunResult) => number) => median(runs.map(f));
  return {
    ops: pick((r) => r.ops),
    errors: pick((r) => r.errors),
    opsPerSec: pick((r) => r.opsPerSec),
    p50Ms: pick((r) => r.p50Ms),
    p99Ms: pick((r) => r.p99Ms),
    cpuMicrosPerOp: pick((r) => r.cpuMicrosPerOp),
  };
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
