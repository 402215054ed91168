/**
 * npm run bench: shardis against ioredis on this machine, in one run.
 *
 *   manual shard   ioredis (enableAutoPipelining) per node, keys routed by hand
 *   ioredis Cluster  ioredis Cluster (enableAutoPipelining) on a 3-master Redis Cluster
 *   shardis slots / shardis ketama
 *
 * Every server is started here. Variants run in rotated order each round and
 * ratios are taken within a round, then the median across rounds is quoted:
 * this machine is noisy, and only same-run ratios are comparable.
 *
 * Flags: --rounds N (5) --seconds S (3) --inflight N (256) --keys N (100000) --json FILE
 *        --only "shardis slots,shardis ketama" (a subset; ratios need both sides)
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Cluster, Redis } from "ioredis";
import { keySlot, ShardedClient } from "../../lib/index.js";
import { defaultSlotRanges } from "../../lib/sharding/slotMap.js";
import { startRedisMany, stopAll } from "../support/redis.js";
import { startRedisCluster } from "../support/cluster.js";
import { keyNames, median, preload, runWorkload, type RunResult, type Target } from "./workload.js";

const { values: flags } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    seconds: { type: "string", default: "3" },
    inflight: { type: "string", default: "256" },
    keys: { type: "string", default: "100000" },
    json: { type: "string" },
    only: { type: "string" },
  },
});
const rounds = Number(flags.rounds);
const workload = {
  keys: Number(flags.keys),
  valueBytes: 100,
  inflight: Number(flags.inflight),
  durationMs: Number(flags.seconds) * 1000,
};

const log = (line = "") => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  log(`shardis bench: 50/50 GET/SET, ${workload.keys} keys, ${workload.valueBytes}-byte values, ${workload.inflight} in flight, ${rounds} rounds x ${workload.durationMs / 1000}s per variant`);
  log(`node ${process.version}, ${(await import("node:os")).cpus().length} cores`);
  const plain = await startRedisMany(3);
  const cluster = await startRedisCluster(3);
  const closers: Array<() => Promise<unknown>> = [];
  try {
    const shards = plain.map((s, i) => ({ name: `s${i}`, master: s.address }));
    const ranges = defaultSlotRanges([1, 1, 1]);
    const owner = new Uint8Array(16384);
    ranges.forEach(([start, end], i) => owner.fill(i, start, end + 1));

    const manualNodes = plain.map((s) => new Redis({ host: s.host, port: s.port, enableAutoPipelining: true }));
    const clusterClient = new Cluster([{ host: cluster.masters[0]!.host, port: cluster.masters[0]!.port }], {
      enableAutoPipelining: true,
    });
    const slots = new ShardedClient({ shards });
    const ketama = new ShardedClient({ shards, sharding: { strategy: "ketama" } });
    closers.push(
      ...manualNodes.map((n) => () => n.quit()),
      () => clusterClient.quit(),
      () => slots.quit(),
      () => ketama.quit(),
    );

    const variants: Record<string, Target> = {
      "manual shard": {
        get: (k) => manualNodes[owner[keySlot(k)]!]!.get(k),
        set: (k, v) => manualNodes[owner[keySlot(k)]!]!.set(k, v),
      },
      "ioredis Cluster": { get: (k) => clusterClient.get(k), set: (k, v) => clusterClient.set(k, v) },
      "shardis slots": { get: (k) => slots.get(k), set: (k, v) => slots.set(k, v) },
      "shardis ketama": { get: (k) => ketama.get(k), set: (k, v) => ketama.set(k, v) },
    };
    const wanted = flags.only?.split(",").map((n) => n.trim());
    const names = Object.keys(variants).filter((n) => !wanted || wanted.includes(n));
    const keys = keyNames(workload.keys);
    const value = "v".repeat(workload.valueBytes);
    log("preloading keys and warming up...");
    await preload(variants["shardis ketama"]!, keys, value);
    await preload(variants["ioredis Cluster"]!, keys, value);
    for (const name of names) await runWorkload(variants[name]!, keys, { ...workload, durationMs: 1000 });

    const results: Record<string, RunResult[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let round = 0; round < rounds; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length]!);
      for (const name of order) {
        const result = await runWorkload(variants[name]!, keys, workload);
        results[name]!.push(result);
        log(`round ${round + 1}/${rounds}  ${row(name, result)}`);
      }
    }

    const ratio = (a: string, b: string) =>
      results[a] && results[b] ? median(results[a].map((r, i) => r.opsPerSec / results[b]![i]!.opsPerSec)) : Number.NaN;
    log();
    log("medians over rounds:");
    for (const name of names) log(`  ${row(name, medianResult(results[name]!))}`);
    const ratios = {
      "shardis slots / manual shard": [ratio("shardis slots", "manual shard"), 0.95],
      "shardis slots / ioredis Cluster": [ratio("shardis slots", "ioredis Cluster"), 1.25],
      "shardis ketama / shardis slots": [ratio("shardis ketama", "shardis slots"), 0.9],
      "shardis ketama / manual shard": [ratio("shardis ketama", "manual shard"), undefined],
    } as const;
    log();
    log("ratios (median of per-round ratios):");
    for (const [label, [value, target]] of Object.entries(ratios)) {
      if (Number.isNaN(value)) continue;
      const verdict = target === undefined ? "" : value >= target ? `  target >= ${target}: met` : `  target >= ${target}: MISSED`;
      log(`  ${label.padEnd(34)} ${value.toFixed(2)}x${verdict}`);
    }
    if (flags.json) writeFileSync(flags.json, JSON.stringify({ workload, rounds, results, ratios }, null, 2));
  } finally {
    await Promise.allSettled(closers.map((close) => close()));
    await cluster.stop();
    await stopAll(plain);
  }
}

function row(name: string, r: RunResult): string {
  return `${name.padEnd(16)} ${Math.round(r.opsPerSec).toString().padStart(8)} ops/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  cpu ${r.cpuMicrosPerOp.toFixed(2)} us/op${r.errors ? `  errors ${r.errors}` : ""}`;
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
