/**
 * One app server of the cache bench (a child process): a closed loop of
 * getOrSet over a Zipf(1.0) key popularity, some keys expiring while it
 * runs, a 2 ms loader. MODE "shardis" uses client.cache(); MODE "local" is
 * cache-aside with single flight inside this process only (what
 * bentocache or cache-manager do): GET, on a miss one loader call per
 * process, SET. Prints one JSON line: ops, latencies (steady and for keys
 * around their expiry), loader calls per key.
 *
 * Environment: SHARDS, NAMESPACE, MODE, KEYS, SECONDS, START (epoch ms),
 * LOADER_MS, INFLIGHT, SEED, STALE_MS.
 */
import { ShardedClient } from "shardis";
import { expiresAt, isExpiring, keyName, zipfSampler } from "./cachePlan.js";

const env = (name: string) => Number(process.env[name]);
const mode = process.env.MODE!;
const namespace = process.env.NAMESPACE!;
const keys = env("KEYS");
const start = env("START");
const seconds = env("SECONDS");
const loaderMs = env("LOADER_MS");
const value = "v".repeat(100);

const client = new ShardedClient({ shards: process.env.SHARDS!.split(",").map((master, i) => ({ name: `s${i}`, master })) });
await client.ready();
const cache = client.cache<string>({ namespace, ttlMs: 600_000, staleMs: env("STALE_MS"), waitTimeoutMs: 5000 });
const loads = new Map<number, number>();
const load = async (rank: number) => {
  loads.set(rank, (loads.get(rank) ?? 0) + 1);
  await new Promise((resolve) => setTimeout(resolve, loaderMs));
  return value;
};
// Cache-aside by hand, single flight per process only.
const inflight = new Map<number, Promise<string>>();
const localGet = async (rank: number): Promise<string> => {
  const found = await client.get(`${namespace}:${keyName(rank)}`);
  if (found !== null) return found;
  let loading = inflight.get(rank);
  if (!loading) {
    loading = load(rank)
      .then(async (v) => (await client.set(`${namespace}:${keyName(rank)}`, v, "PX", 600_000), v))
      .finally(() => inflight.delete(rank));
    inflight.set(rank, loading);
  }
  return loading;
};
const read = mode === "local" ? localGet : (rank: number) => cache.getOrSet(keyName(rank), () => load(rank));

process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
await new Promise((resolve) => setTimeout(resolve, Math.max(0, start - Date.now())));
const end = start + seconds * 1000;
// Latencies in 50 µs buckets up to 1 s (the last bucket: anything slower), merged by the parent.
const BUCKETS = 20_000;
const steady = new Map<number, number>();
const during = new Map<number, number>();
const count = (into: Map<number, number>, ms: number) => {
  const bucket = Math.min(BUCKETS, Math.floor(ms * 20));
  into.set(bucket, (into.get(bucket) ?? 0) + 1);
};
let ops = 0;
let errors = 0;
const worker = async (seed: number) => {
  const next = zipfSampler(keys, seed);
  let failed = false;
  while (Date.now() < end) {
    // A refused call settles without I/O: one event-loop turn per failure, or a breaker never gets to probe (workload.ts's runLoop).
    if (failed) await new Promise((resolve) => setImmediate(resolve));
    failed = false;
    const rank = next();
    const began = performance.now();
    const at = Date.now();
    try {
      await read(rank);
      ops++;
    } catch {
      errors++;
      failed = true;
    }
    // The first second warms connections and code up (and no key expires in it): not measured.
    if (at < start + 1000) continue;
    const ms = performance.now() - began;
    // "Around an expiry": a request for an expiring key within a second after it expired.
    const expiry = expiresAt(rank, start, seconds);
    if (isExpiring(rank) && at >= expiry && at < expiry + 1000) count(during, ms);
    else if (!isExpiring(rank)) count(steady, ms);
  }
};
await Promise.all(Array.from({ length: env("INFLIGHT") }, (_, i) => worker(env("SEED") * 1000 + i + 1)));
const line = JSON.stringify({ done: true, ops, errors, steady: [...steady], during: [...during], loads: [...loads] });
await client.quit();
// Exit once the line is out: a pipe is written asynchronously.
process.stdout.write(`${line}\n`, () => process.exit(0));
