/**
 * The cache layer's part of npm run bench.
 *
 * Hit path: client.cache().getOrSet on cached keys against a plain
 * client.get of the same keys (100-byte values, same closed loop); and for
 * object values, against client.get and JSON.parse by hand.
 *
 * Expiry: 4 processes (app servers) read Zipf(1.0) over 100k keys for a few
 * seconds while 20% of the keys expire, loader 2 ms. Reported per variant:
 * loader calls per expired key (shardis: one in the fleet; single flight per
 * process: up to one per process), and callers' p99 for keys around their
 * expiry against the steady p99. Variants: shardis with stale-while-
 * revalidate, shardis without stale values (callers of an expired key wait
 * for its load), and cache-aside with per-process single flight.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ShardedClient } from "shardis";
import { expiresAt, isExpiring, keyName } from "./cachePlan.js";
import { runReadWorkload, type RunResult, type WorkloadOptions } from "./workload.js";

const WORKER = fileURLToPath(new URL("./cacheWorker.ts", import.meta.url));
const PROCESSES = 4;

export interface CacheBenchParts {
  readonly client: ShardedClient;
  readonly shards: ReadonlyArray<{ master: string }>;
  readonly keys: number;
  readonly commands: WorkloadOptions;
  readonly seconds: number;
  readonly log: (line?: string) => void;
  readonly compare: (variants: Record<string, () => Promise<RunResult>>, ratios: Array<[string, string, string, number?]>) => Promise<unknown>;
}

export async function cacheBench(parts: CacheBenchParts): Promise<Record<string, unknown>> {
  const { client, log } = parts;
  const report: Record<string, unknown> = {};
  const value = "v".repeat(100);
  const names = Array.from({ length: parts.keys }, (_, i) => keyName(i));

  log(`\n== cache hit path: getOrSet of cached keys vs plain GET, ${parts.commands.inflight} in flight, ${parts.keys} keys`);
  const hits = client.cache<string>({ namespace: "benchhit", ttlMs: 3_600_000 });
  // Objects too (JSON both ways, about as long as the string): what a cache of records costs against GET + JSON.parse by hand.
  const record = { id: 42, name: "v".repeat(60), tags: ["a", "b"], active: true };
  const objects = client.cache<typeof record>({ namespace: "benchobj", ttlMs: 3_600_000 });
  for (let i = 0; i < names.length; i += 1000) {
    await Promise.all(
      names
        .slice(i, i + 1000)
        .flatMap((k) => [hits.set(k, value), client.set(`plain:${k}`, value), objects.set(k, record), client.set(`plainobj:${k}`, JSON.stringify(record))]),
    );
  }
  const never = async (): Promise<never> => {
    throw new Error("the hit path must not load");
  };
  report.hitPath = await parts.compare(
    {
      "plain GET": () => runReadWorkload((k) => client.get(`plain:${k}`), names, parts.commands),
      "cache getOrSet hit": () => runReadWorkload((k) => hits.getOrSet(k, never), names, parts.commands),
      "plain GET + JSON.parse": () => runReadWorkload((k) => client.get(`plainobj:${k}`).then((text) => JSON.parse(text!)), names, parts.commands),
      "cache getOrSet hit (object)": () => runReadWorkload((k) => objects.getOrSet(k, never), names, parts.commands),
      ...(process.env.BENCH_CACHE_GET ? { "cache get": () => runReadWorkload((k) => hits.get(k), names, parts.commands) } : {}),
    },
    [
      ["cache hit / plain GET", "cache getOrSet hit", "plain GET", 0.9],
      ["cache hit (object) / GET + JSON.parse", "cache getOrSet hit (object)", "plain GET + JSON.parse"],
    ],
  );

  log(`\n== cache expiry: ${PROCESSES} processes, Zipf(1.0) over ${parts.keys} keys, 20% expiring during ${parts.seconds} s, loader 2 ms`);
  const variants: Array<[name: string, mode: string, staleMs: number]> = [
    ["shardis, stale-while-revalidate", "shardis", 30_000],
    ["shardis, no stale values", "shardis", 0],
    ["per-process single flight", "local", 0],
  ];
  const expiry: Record<string, ExpiryResult[]> = {};
  // Two rounds, the second in reverse order: drift of this machine over a minute weighs on every variant alike.
  const order = [...variants, ...[...variants].reverse()];
  for (const [index, [name, mode, staleMs]] of order.entries()) {
    const result = await expiryRun(parts, `benchexp${index}`, mode, staleMs, names, value);
    (expiry[name] ??= []).push(result);
    log(
      `  ${name.padEnd(32)} ${Math.round(result.ops / parts.seconds)} ops/s, ${result.errors} errors; loader calls per expired key ${result.loadsPerExpiredKey.toFixed(2)} ` +
        `(top-1000 keys ${result.loadsPerHotExpiredKey.toFixed(2)}, most for one key ${result.maxLoadsOfOneKey}); ` +
        `p99 steady ${result.p99SteadyMs.toFixed(2)} ms, around an expiry ${result.p99DuringExpiryMs.toFixed(2)} ms (${(result.p99DuringExpiryMs / result.p99SteadyMs).toFixed(2)}x, ${result.requestsDuringExpiry} requests)`,
    );
  }
  for (const [name, runs] of Object.entries(expiry)) {
    const ratio = runs.map((r) => r.p99DuringExpiryMs / r.p99SteadyMs);
    log(`  ${name.padEnd(32)} over both runs: loader calls per expired key ${Math.max(...runs.map((r) => r.loadsPerExpiredKey)).toFixed(2)} at most, p99 around an expiry / steady ${(ratio.reduce((a, b) => a + b, 0) / ratio.length).toFixed(2)}x mean`);
  }
  report.expiry = expiry;
  return report;
}

interface ExpiryResult {
  ops: number;
  errors: number;
  loadsPerExpiredKey: number;
  loadsPerHotExpiredKey: number;
  maxLoadsOfOneKey: number;
  loadsOfKeysThatDidNotExpire: number;
  p99SteadyMs: number;
  p99DuringExpiryMs: number;
  requestsDuringExpiry: number;
}

/** One variant's run: preload (the expiring keys until their moment), 4 workers, their results merged. */
async function expiryRun(parts: CacheBenchParts, namespace: string, mode: string, staleMs: number, names: string[], value: string): Promise<ExpiryResult> {
  const { client } = parts;
  const start = Date.now() + 4000;
  // Preload: every key cached, the expiring ones until their moment in the run.
  const preload = client.cache<string>({ namespace, ttlMs: 600_000, jitter: 0, staleMs, earlyRefresh: false });
  for (let i = 0; i < parts.keys; i += 1000) {
    await Promise.all(
      names.slice(i, i + 1000).map((k, j) => {
        const rank = i + j;
        const ttlMs = isExpiring(rank) ? Math.max(1, Math.round(expiresAt(rank, start, parts.seconds) - Date.now())) : 600_000;
        return mode === "local" ? client.set(`${namespace}:${k}`, value, "PX", ttlMs) : preload.set(k, value, { ttlMs });
      }),
    );
  }
  const outputs = await Promise.all(
    Array.from({ length: PROCESSES }, (_, i) =>
      worker({
        SHARDS: parts.shards.map((s) => s.master).join(","),
        NAMESPACE: namespace,
        MODE: mode,
        KEYS: parts.keys,
        SECONDS: parts.seconds,
        START: start,
        LOADER_MS: 2,
        INFLIGHT: 64,
        SEED: i + 1,
        STALE_MS: staleMs,
      }),
    ),
  );
  const loads = new Map<number, number>();
  for (const o of outputs) for (const [rank, n] of o.loads) loads.set(rank, (loads.get(rank) ?? 0) + n);
  const expiredLoaded = [...loads.keys()].filter(isExpiring);
  const totalLoads = expiredLoaded.reduce((n, r) => n + loads.get(r)!, 0);
  const hot = expiredLoaded.filter((r) => r < 1000);
  const steady = merge(outputs.map((o) => o.steady));
  const during = merge(outputs.map((o) => o.during));
  const result: ExpiryResult = {
    ops: outputs.reduce((n, o) => n + o.ops, 0),
    errors: outputs.reduce((n, o) => n + o.errors, 0),
    loadsPerExpiredKey: expiredLoaded.length ? totalLoads / expiredLoaded.length : 0,
    loadsPerHotExpiredKey: hot.length ? hot.reduce((n, r) => n + loads.get(r)!, 0) / hot.length : 0,
    maxLoadsOfOneKey: Math.max(0, ...loads.values()),
    loadsOfKeysThatDidNotExpire: [...loads.keys()].filter((r) => !isExpiring(r)).length,
    p99SteadyMs: percentile(steady, 0.99),
    p99DuringExpiryMs: percentile(during, 0.99),
    requestsDuringExpiry: total(during),
  };
  return result;
}

/** Latency counts by 50 µs bucket. */
type Buckets = Array<[bucket: number, count: number]>;

interface WorkerOutput {
  ops: number;
  errors: number;
  steady: Buckets;
  during: Buckets;
  loads: Array<[number, number]>;
}

function merge(all: Buckets[]): Map<number, number> {
  const merged = new Map<number, number>();
  for (const buckets of all) for (const [bucket, n] of buckets) merged.set(bucket, (merged.get(bucket) ?? 0) + n);
  return merged;
}

function total(buckets: Map<number, number>): number {
  let n = 0;
  for (const count of buckets.values()) n += count;
  return n;
}

/** Runs a bench worker (cacheWorker.ts unless `file` says another) in a fresh process; resolves its "done" JSON line. */
export function worker<T = WorkerOutput>(env: Record<string, string | number>, file = WORKER): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", file], {
      env: { ...process.env, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk));
    child.stderr.on("data", (chunk: Buffer) => (err = (err + chunk).slice(-2000)));
    child.once("exit", (code) => {
      const line = out.split("\n").find((l) => l.includes('"done"'));
      if (code === 0 && line) resolve(JSON.parse(line) as T);
      else reject(new Error(`bench worker ${file} failed (exit ${code}):\n${err}`));
    });
  });
}

/** The q-quantile of bucketed latencies, in ms (the bucket's upper edge). */
function percentile(buckets: Map<number, number>, q: number): number {
  const n = total(buckets);
  if (!n) return Number.NaN;
  let seen = 0;
  for (const [bucket, count] of [...buckets].sort((a, b) => a[0] - b[0])) {
    seen += count;
    if (seen >= n * q) return (bucket + 1) / 20;
  }
  return Number.NaN;
}
