/**
 * Each variant in several fresh processes (processWorker.ts), one after the
 * other, variants interleaved: min / median / max across processes, the
 * slowest over the fastest, and what the garbage collector did (time share,
 * bytes promoted per million commands, live young generation per command in
 * flight). Rounds inside one process hide a process that runs in a slow GC
 * mode for its whole life (docs/benchmarks.md, "The garbage-collector mode").
 *
 * Standalone: `tsx test/bench/processBench.ts --processes 10 --seconds 3 --inflight 256 --variants "a,b" --cluster 1 --burst 1000`
 * (--node-flags="--cpu-prof --cpu-prof-dir=/tmp/p" passes V8/Node flags to every worker, for profiling one variant;
 * --burst 10000 loads in bursts large enough to tip V8 into the slow mode in every process of a build without the fix;
 * SHARDIS_DIST=path/to/dist/index.js runs another build; --compare path/to/dist/index.js runs both, interleaved)
 * (starts and loads its own servers); `npm run bench` runs it as a section.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Cluster, Redis } from "ioredis";
import { ShardedClient } from "shardis";
import { startRedisMany, stopAll, type RedisServer } from "../support/redis.js";
import { startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";
import type { WorkerJob, WorkerResult } from "./processWorker.js";
import { keyNames, median } from "./workload.js";

export const ONE_NODE = [
  "shardis 1 node",
  "shardis 3 shards",
  "shardis near cache 1 node",
  "shardis cache.getOrSet hit",
  "ioredis 1 node",
  "ioredis Zipf 95/5 1 node",
  "node-redis 1 node",
  "GLIDE 1 node",
];
export const ON_CLUSTER = ["shardis on Cluster", "ioredis Cluster", "node-redis cluster", "GLIDE cluster"];

/** Ratio of medians (and of the slowest processes) against the issue's targets. */
const RATIOS: Array<[numerator: string, denominator: string, target?: number]> = [
  ["shardis 1 node", "GLIDE 1 node", 3],
  ["shardis 1 node", "ioredis 1 node", 1.8],
  ["shardis 1 node", "node-redis 1 node"],
  ["shardis near cache 1 node", "ioredis Zipf 95/5 1 node", 2.5],
  ["shardis on Cluster", "GLIDE cluster", 2.5],
  ["shardis on Cluster", "ioredis Cluster", 2],
  ["shardis on Cluster", "node-redis cluster"],
];

export interface ProcessBenchParts {
  readonly single: string;
  readonly shards: string[];
  readonly seeds: string[];
  readonly keys: number;
  readonly inflight: number;
  readonly processes: number;
  readonly seconds: number;
  readonly variants: string[];
  /** Each process loads the keys through its client first, this many at a time (1000; 0: no load). */
  readonly burst?: number;
  /** Extra Node/V8 flags for every worker (profiling: --cpu-prof, --trace-deopt, --trace-pretenuring-statistics). */
  readonly nodeFlags?: string[];
  /** Another build's dist/index.js: each variant also runs on it ("<variant> @other"), in the same process slots, order alternating. */
  readonly compare?: string;
  readonly log: (line?: string) => void;
}

const WORKER = fileURLToPath(new URL("./processWorker.ts", import.meta.url));

function runWorker(job: WorkerJob, flags: string[] = [], dist?: string): Promise<WorkerResult | Error> {
  return new Promise((resolve) => {
    const env = dist === undefined ? process.env : { ...process.env, SHARDIS_DIST: dist };
    const child = spawn(process.execPath, [...flags, "--import", "tsx", WORKER, JSON.stringify(job)], { stdio: ["ignore", "pipe", "pipe"], env });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk));
    child.on("close", (code) => {
      // The result is the last JSON line (trace flags print to stdout too); PB_LOG_DIR keeps each worker's output.
      if (process.env.PB_LOG_DIR) writeFileSync(`${process.env.PB_LOG_DIR}/${job.variant.replace(/\W+/g, "_")}-${Date.now()}.log`, `${out}\n--- stderr\n${err}`);
      const line = out.trim().split("\n").filter((l) => l.startsWith("{")).pop() ?? "";
      try {
        resolve(code === 0 ? (JSON.parse(line) as WorkerResult) : new Error(`exit ${code}: ${err.trim().split("\n")[0]}`));
      } catch {
        resolve(new Error(`no result: ${err.trim().split("\n")[0] ?? line}`));
      }
    });
  });
}

const k = (n: number) => `${Math.round(n / 1000)}k`;

export async function processBench(parts: ProcessBenchParts): Promise<Record<string, WorkerResult[]>> {
  const { log } = parts;
  const OTHER = " @other";
  const labels = parts.compare === undefined ? parts.variants : parts.variants.flatMap((v) => [v, v + OTHER]);
  const results: Record<string, WorkerResult[]> = Object.fromEntries(labels.map((v) => [v, []]));
  log(`\n== per process: ${parts.processes} fresh processes per variant (interleaved), ${parts.burst === 0 ? "" : `keys loaded through the client ${parts.burst ?? 1000} at a time, `}1 s warm-up + ${parts.seconds} s each, ${parts.inflight} in flight, default options`);
  for (let p = 0; p < parts.processes; p++) {
    // With a build to compare, its run and this build's alternate which goes first.
    const order = p % 2 === 0 ? labels : [...labels].reverse();
    for (const label of order) {
      const variant = label.endsWith(OTHER) ? label.slice(0, -OTHER.length) : label;
      const job: WorkerJob = { variant, single: parts.single, shards: parts.shards, seeds: parts.seeds, inflight: parts.inflight, warmMs: 1000, durationMs: parts.seconds * 1000, keys: parts.keys, burst: parts.burst ?? 1000 };
      const result = await runWorker(job, parts.nodeFlags, label === variant ? undefined : parts.compare);
      if (result instanceof Error) {
        log(`  process ${p + 1}  ${label.padEnd(28)} failed: ${result.message}`);
        continue;
      }
      results[label]!.push(result);
      log(
        `  process ${p + 1}  ${label.padEnd(28)} ${String(Math.round(result.opsPerSec)).padStart(7)} ops/s  cpu ${result.cpuMicrosPerOp.toFixed(2)} us/op` +
          `  gc ${(result.gcShare * 100).toFixed(1)}%  promoted ${(result.promotedPerMillion / 1e6).toFixed(0)} MB/M cmds${result.errors ? `  errors ${result.errors} (first: ${result.firstError})` : ""}`,
      );
    }
  }
  log("across processes (min / median / max ops/s, slowest/fastest; CPU us per command min / median / max; medians of GC time share, bytes promoted per million commands, live young generation per command in flight):");
  for (const variant of labels) {
    const rs = results[variant]!;
    if (rs.length === 0) continue;
    const ops = rs.map((r) => r.opsPerSec);
    const spread = Math.min(...ops) / Math.max(...ops);
    const cpus = rs.map((r) => r.cpuMicrosPerOp);
    log(
      `  ${variant.padEnd(28)} ${k(Math.min(...ops))} / ${k(median(ops))} / ${k(Math.max(...ops))}  slowest/fastest ${spread.toFixed(2)}${spread >= 0.85 ? "" : " (< 0.85)"}` +
        `  cpu ${Math.min(...cpus).toFixed(2)} / ${median(cpus).toFixed(2)} / ${Math.max(...cpus).toFixed(2)} us (fastest/slowest ${(Math.min(...cpus) / Math.max(...cpus)).toFixed(2)})  gc ${(median(rs.map((r) => r.gcShare)) * 100).toFixed(1)}%` +
        `  promoted ${(median(rs.map((r) => r.promotedPerMillion)) / 1e6).toFixed(1)} MB/M  young ${Math.round(median(rs.map((r) => r.youngPerInflight)))} B/cmd in flight`,
    );
  }
  log("ratios (of medians across processes; slowest process over the other's median in brackets):");
  for (const [top, bottom, target] of RATIOS) {
    const a = results[top];
    const b = results[bottom];
    if (!a?.length || !b?.length) continue;
    const mid = median(a.map((r) => r.opsPerSec)) / median(b.map((r) => r.opsPerSec));
    const slowest = Math.min(...a.map((r) => r.opsPerSec)) / median(b.map((r) => r.opsPerSec));
    const verdict = target === undefined ? "" : `  target >= ${target}: ${mid >= target ? "met" : "MISSED"}`;
    log(`  ${`${top} / ${bottom}`.padEnd(52)} ${mid.toFixed(2)}x (${slowest.toFixed(2)}x)${verdict}`);
  }
  return results;
}

/** Loads what the variants read: the bench's keys everywhere, and the cache hit path's entries on the single node. */
export async function loadForProcesses(single: string, shards: string[], seeds: string[], keyCount: number): Promise<void> {
  const keys = keyNames(keyCount);
  const value = "v".repeat(100);
  // Plain pipelines (no breaker to trip on a loaded machine), the cache's entries through shardis in small steps.
  const hostPort = (address: string) => ({ host: address.split(":")[0]!, port: Number(address.split(":")[1]) });
  const nodes = [...new Set([single, ...shards])].map((address) => new Redis(hostPort(address)));
  const cluster = seeds.length ? new Cluster([hostPort(seeds[0]!)]) : undefined;
  // The loader alone runs without a breaker: a loaded machine must not stop the set-up (every measured client keeps its guards).
  const one = new ShardedClient({ shards: [{ name: "s0", master: single }], commandTimeoutMs: 10_000, breaker: false });
  const hits = one.cache<string>({ namespace: "benchhit", ttlMs: 3_600_000 });
  try {
    for (let i = 0; i < keys.length; i += 1000) {
      const slice = keys.slice(i, i + 1000);
      await Promise.all(nodes.map((node) => slice.reduce((p, key) => p.set(key, value), node.pipeline()).exec()));
      if (cluster) await Promise.all(slice.map((key) => cluster.set(key, value)));
      for (let j = 0; j < slice.length; j += 200) await Promise.all(slice.slice(j, j + 200).map((key) => hits.set(key, value)));
    }
  } finally {
    await Promise.all([...nodes, ...(cluster ? [cluster] : []), one].map((c) => c.quit()));
  }
}

async function standalone(): Promise<void> {
  const { values } = parseArgs({
    options: {
      processes: { type: "string", default: "10" },
      seconds: { type: "string", default: "3" },
      inflight: { type: "string", default: "256" },
      keys: { type: "string", default: "100000" },
      variants: { type: "string" },
      cluster: { type: "string", default: "1" },
      burst: { type: "string", default: "1000" },
      "node-flags": { type: "string", default: "" },
      compare: { type: "string" },
    },
  });
  const withCluster = values.cluster !== "0";
  const variants = values.variants ? values.variants.split(",").map((v) => v.trim()) : [...ONE_NODE, ...(withCluster ? ON_CLUSTER : [])];
  const plain: RedisServer[] = await startRedisMany(3);
  let cluster: RedisClusterHandle | undefined;
  try {
    if (withCluster && variants.some((v) => ON_CLUSTER.includes(v))) cluster = await startRedisCluster(3);
    const shards = plain.map((s) => s.address);
    const seeds = cluster?.seeds ?? [];
    await loadForProcesses(shards[0]!, shards, seeds, Number(values.keys));
    await processBench({
      single: shards[0]!,
      shards,
      seeds,
      keys: Number(values.keys),
      inflight: Number(values.inflight),
      processes: Number(values.processes),
      seconds: Number(values.seconds),
      variants,
      burst: Number(values.burst),
      nodeFlags: values["node-flags"].split(" ").filter(Boolean),
      compare: values.compare,
      log: (line = "") => process.stdout.write(`${line}\n`),
    });
  } finally {
    await cluster?.stop();
    await stopAll(plain);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  standalone().catch((error: unknown) => {
    process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
    process.exit(1);
  });
}
