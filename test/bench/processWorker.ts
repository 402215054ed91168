/**
 * One fresh process of the per-process bench (processBench.ts): connects one
 * client variant to servers the parent started and loaded, warms up, runs
 * the closed loop under v8.GCProfiler, prints one JSON line and exits. A
 * process is where V8 makes its heap decisions (new space size, which
 * allocation sites to pretenure), so only fresh processes show how a fleet
 * of app servers would spread.
 *
 * argv[2]: JSON { variant, single: "host:port", shards: [...], seeds: [...], inflight, warmMs, durationMs, keys }
 */
import v8 from "node:v8";
import { zipfSampler } from "../support/zipf.js";
import { keyNames, runReadWorkload, runSkewedWorkload, runWorkload, type RunResult, type Target } from "./workload.js";

export interface WorkerJob {
  variant: string;
  single: string;
  shards: string[];
  seeds: string[];
  inflight: number;
  warmMs: number;
  durationMs: number;
  keys: number;
  /** Writes the keys through the client first, `burst` at a time (0: not at all). */
  burst: number;
}

export interface WorkerResult extends RunResult {
  variant: string;
  gcShare: number;
  scavenges: number;
  markCompacts: number;
  /** Bytes the scavenges moved to the old generation, per million commands. */
  promotedPerMillion: number;
  /** What survives a scavenge (live young generation), per command in flight. */
  youngPerInflight: number;
  /** The first failure of the run, if any. */
  firstError?: string;
}

const job = JSON.parse(process.argv[2]!) as WorkerJob;
const hostPort = (address: string) => ({ host: address.split(":")[0]!, port: Number(address.split(":")[1]) });

interface Variant {
  run(options: { durationMs: number }): Promise<RunResult>;
  load(): Promise<void>;
  close(): Promise<unknown>;
}

const keys = keyNames(job.keys);
/** The first failure the loop swallowed (class, code, message), reported with the result. */
let firstError: string | undefined;
function noted<T>(promise: Promise<T>): Promise<T> {
  return promise.catch((error: unknown) => {
    const e = error as { name?: string; code?: string; message?: string };
    firstError ??= `${e?.name ?? typeof error}${e?.code ? ` ${e.code}` : ""}: ${String(e?.message ?? error).slice(0, 160)}`;
    throw error;
  });
}
function watched(target: Target): Target {
  return { get: (k) => noted(target.get(k)), set: (k, v) => noted(target.set(k, v)) };
}
const value = "v".repeat(100);

async function load(set: (key: string, value: string) => Promise<unknown>): Promise<void> {
  // Settled, not awaited whole: a burst larger than the machine answers within the deadline may time some writes out.
  for (let i = 0; i < keys.length; i += job.burst) await Promise.allSettled(keys.slice(i, i + job.burst).map((key) => set(key, value)));
}

/** The GET/SET loop of the bench on a target. */
function looped(plain: Target, close: () => Promise<unknown>): Variant {
  const target = watched(plain);
  return {
    run: (o) => runWorkload(target, keys, { keys: job.keys, valueBytes: 100, inflight: job.inflight, durationMs: o.durationMs }),
    load: () => load(target.set),
    close,
  };
}

/** The near-cache loop of nearCacheBench on any client: Zipf(1.0) over the keys, 95% GET / 5% SET. */
function skewed(plain: Target, close: () => Promise<unknown>): Variant {
  const target = watched(plain);
  const draw = zipfSampler(keys.length, 100);
  return {
    run: (o) => runSkewedWorkload(target, keys, { keys: job.keys, valueBytes: 100, inflight: job.inflight, durationMs: o.durationMs, draw }),
    load: () => load(target.set),
    close,
  };
}

async function variant(): Promise<Variant> {
  // SHARDIS_DIST: another build's dist/index.js, for a before/after comparison.
  const { ShardedClient } = (await import(process.env.SHARDIS_DIST ?? "shardis")) as typeof import("shardis");
  const shards = (list: string[]) => list.map((master, i) => ({ name: `s${i}`, master }));
  switch (job.variant) {
    case "shardis 1 node":
    case "shardis 3 shards": {
      const client = new ShardedClient({ shards: shards(job.variant === "shardis 1 node" ? [job.single] : job.shards) });
      await client.ready();
      return looped({ get: (k) => client.get(k), set: (k, v) => client.set(k, v) }, () => client.quit());
    }
    case "shardis near cache 1 node": {
      // The near-cache hit loop of nearCacheBench: Zipf(1.0), 95% GET / 5% SET.
      const client = new ShardedClient({ shards: shards([job.single]), nearCache: { maxEntries: 50_000 } });
      await client.ready();
      return skewed({ get: (k) => client.get(k), set: (k, v) => client.set(k, v) }, () => client.quit());
    }
    case "shardis cache.getOrSet hit": {
      // The cache's hit path of cacheBench: getOrSet of keys the parent cached (namespace "benchhit").
      const client = new ShardedClient({ shards: shards([job.single]) });
      await client.ready();
      const hits = client.cache<string>({ namespace: "benchhit", ttlMs: 3_600_000 });
      const never = async (): Promise<never> => {
        throw new Error("the hit path must not load");
      };
      return {
        run: (o) => runReadWorkload((k) => hits.getOrSet(k, never), keys, { keys: job.keys, valueBytes: 100, inflight: job.inflight, durationMs: o.durationMs }),
        load: () => load((key, v) => hits.set(key, v)),
        close: () => client.quit(),
      };
    }
    case "shardis on Cluster": {
      const client = new ShardedClient({ cluster: { seeds: job.seeds } });
      await client.ready();
      return looped({ get: (k) => client.get(k), set: (k, v) => client.set(k, v) }, () => client.quit());
    }
    case "ioredis 1 node": {
      const { Redis } = await import("ioredis");
      const client = new Redis({ ...hostPort(job.single), enableAutoPipelining: true });
      return looped({ get: (k) => client.get(k), set: (k, v) => client.set(k, v) }, () => client.quit());
    }
    case "ioredis Zipf 95/5 1 node": {
      const { Redis } = await import("ioredis");
      const client = new Redis({ ...hostPort(job.single), enableAutoPipelining: true });
      return skewed({ get: (k) => client.get(k), set: (k, v) => client.set(k, v) }, () => client.quit());
    }
    case "ioredis Cluster": {
      const { Cluster } = await import("ioredis");
      const client = new Cluster([hostPort(job.seeds[0]!)], { enableAutoPipelining: true });
      return looped({ get: (k) => client.get(k), set: (k, v) => client.set(k, v) }, () => client.quit());
    }
    case "node-redis 1 node": {
      const { createClient } = await import("@redis/client");
      const client = createClient({ socket: hostPort(job.single) });
      await client.connect();
      return looped({ get: (k) => client.get(k), set: (k, v) => client.set(k, v) }, () => client.quit());
    }
    case "node-redis cluster": {
      const { createCluster } = await import("@redis/client");
      const client = createCluster({ rootNodes: [{ socket: hostPort(job.seeds[0]!) }] });
      await client.connect();
      return looped({ get: (k) => client.get(k), set: (k, v) => client.set(k, v) }, () => client.quit());
    }
    case "GLIDE 1 node": {
      const { GlideClient } = await import("@valkey/valkey-glide");
      const client = await GlideClient.createClient({ addresses: [hostPort(job.single)] });
      return looped({ get: (k) => client.get(k), set: (k, v) => client.set(k, v) }, async () => client.close());
    }
    case "GLIDE cluster": {
      const { GlideClusterClient } = await import("@valkey/valkey-glide");
      const client = await GlideClusterClient.createClient({ addresses: job.seeds.map(hostPort) });
      return looped({ get: (k) => client.get(k), set: (k, v) => client.set(k, v) }, async () => client.close());
    }
    default:
      throw new Error(`unknown variant ${job.variant}`);
  }
}

const spaceUsed = (spaces: v8.HeapSpaceInfo[] | Array<{ spaceName: string; spaceUsedSize: number }>, name: string) =>
  (spaces as Array<{ spaceName: string; spaceUsedSize: number }>).find((s) => s.spaceName === name)?.spaceUsedSize ?? 0;
const oldGeneration = (spaces: Array<{ spaceName: string; spaceUsedSize: number }>) =>
  spaceUsed(spaces, "old_space") + spaceUsed(spaces, "large_object_space") + spaceUsed(spaces, "code_space");

async function main(): Promise<void> {
  const v = await variant();
  // Loaded through the client in bursts, as the bench's preload and an application's warm-up do: a burst is what
  // tips V8 into pretenuring a per-command allocation site (docs/benchmarks.md), so it belongs in the process.
  if (job.burst > 0) await v.load();
  await v.run({ durationMs: job.warmMs });
  const profiler = new v8.GCProfiler();
  profiler.start();
  const started = performance.now();
  const result = await v.run({ durationMs: job.durationMs });
  const elapsedMs = performance.now() - started;
  const { statistics } = profiler.stop() as unknown as {
    statistics: Array<{ gcType: string; cost: number; beforeGC: { heapSpaceStatistics: never }; afterGC: { heapSpaceStatistics: never } }>;
  };
  let gcMicros = 0;
  let scavenges = 0;
  let promoted = 0;
  let survived = 0;
  for (const gc of statistics) {
    gcMicros += gc.cost;
    if (gc.gcType !== "Scavenge") continue;
    scavenges++;
    promoted += Math.max(0, oldGeneration(gc.afterGC.heapSpaceStatistics) - oldGeneration(gc.beforeGC.heapSpaceStatistics));
    survived += spaceUsed(gc.afterGC.heapSpaceStatistics, "new_space");
  }
  const out: WorkerResult = {
    ...result,
    variant: job.variant,
    gcShare: gcMicros / 1000 / elapsedMs,
    scavenges,
    markCompacts: statistics.length - scavenges,
    promotedPerMillion: (promoted / Math.max(1, result.ops)) * 1e6,
    youngPerInflight: scavenges ? survived / scavenges / job.inflight : 0,
    ...(firstError !== undefined && { firstError }),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  await v.close();
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
