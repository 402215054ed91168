/**
 * One app server of the growth bench (a fresh child process per run): the
 * cache service of examples/grow.ts (getOrSet, a fake database with a fixed
 * latency) read at a steady rate over a Zipf(1.0) key popularity, keys
 * expiring after TTL_MS so the database sees a steady load. The cache is
 * preloaded as that steady state leaves it; after a short warm-up the run measures a steady window, then the fleet changes (3 -> 4 or 4 -> 3,
 * by a migration or a plain switch), then a window after. Prints one JSON
 * line: per window, reads, database loads, failed reads, length, p99,
 * and each second's figures.
 *
 * The change window: a migration's startAt to its doneAt (dual, warm,
 * switch); for a plain switch, the same length from the switch on.
 *
 * Environment: SHARDS (4), DIRECTION (grow | shrink), MODE (migration |
 * switch), NAMESPACE, KEYS, TTL_MS, LOADER_MS, INFLIGHT, WARM_MS, STEADY_MS,
 * PHASE_MS, AFTER_MS, SEED, RATE (reads/s).
 */
import { ShardedClient } from "shardis";
import { changeFleet, failedCommands, keepReading, productService } from "../../examples/grow.js";
import { keyName, zipfSampler } from "./cachePlan.js";
import { seededRandom } from "../support/zipf.js";

const env = (name: string) => Number(process.env[name]);
const all = process.env.SHARDS!.split(",").map((master, i) => ({ name: `s${i}`, master }));
const grow = process.env.DIRECTION === "grow";
const [from, to] = grow ? [all.slice(0, 3), all] : [all, all.slice(0, 3)];
const phaseMs = env("PHASE_MS");
/** How far ahead of the reconfigure() call the migration starts (every app server would get it in that time). */
const LEAD_MS = 500;

/** One window's figures (type only: growthBench.ts reads them). */
export interface Window {
  reads: number;
  loads: number;
  errors: number;
  failed: number;
  ms: number;
  p99Ms: number;
  /** The whole seconds in the window. */
  seconds: typeof seconds;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const client = new ShardedClient({ shards: from, commandTimeoutMs: 1000 });
await client.ready(10_000); // a starved machine can take seconds to connect
const service = productService(client, { namespace: process.env.NAMESPACE!, ttlMs: env("TTL_MS"), loaderMs: env("LOADER_MS") });
const next = zipfSampler(env("KEYS"), env("SEED"));
await preload();
let latencies: number[] = [];
let secondLatencies: number[] = [];
/** Latencies by the phase a read ended in: where a p99 comes from. */
const byPhase: Record<string, number[]> = {};
const reader = keepReading(service, {
  inflight: env("INFLIGHT"),
  rate: env("RATE"),
  next: () => keyName(next()),
  onRead: (ms) => {
    latencies.push(ms);
    secondLatencies.push(ms);
    const phase = client.migration()?.phase ?? label;
    (byPhase[phase] ??= []).push(ms);
  },
});
const p99 = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length * 0.99)] ?? Number.NaN;

/** Each second: the phase (or "changed" after a plain switch), reads, loads, p99: where a window's figures come from. */
const seconds: Array<{ phase: string; reads: number; loads: number; p99Ms: number }> = [];
let label = "steady";
let last = { ...service.counts };
const ticker = setInterval(() => {
  const now = { ...service.counts };
  seconds.push({ phase: client.migration()?.phase ?? label, reads: now.reads - last.reads, loads: now.loads - last.loads, p99Ms: p99(secondLatencies) });
  last = now;
  secondLatencies = [];
}, 1000);

/** Starts a window now; its end() closes it. */
function open() {
  const at = { ...service.counts, failed: failedCommands(client), time: performance.now() };
  latencies = [];
  const first = seconds.length;
  return (): Window => ({
    reads: service.counts.reads - at.reads,
    loads: service.counts.loads - at.loads,
    errors: service.counts.errors - at.errors,
    failed: failedCommands(client) - at.failed,
    ms: performance.now() - at.time,
    p99Ms: p99(latencies),
    seconds: seconds.slice(first),
  });
}

await sleep(env("WARM_MS"));
let end = open();
await sleep(env("STEADY_MS"));
const steady = end();
if (process.env.MODE === "migration") {
  await changeFleet(client, to, { inMs: LEAD_MS, phaseMs, copyWindowMs: 500 });
  const { startAt, doneAt } = client.migration()!;
  await sleep(startAt - Date.now());
  end = open();
  await sleep(doneAt - Date.now());
} else {
  await changeFleet(client, to);
  label = "changed";
  end = open();
  await sleep(2 * phaseMs);
}
const during = end();
end = open();
await sleep(env("AFTER_MS"));
const after = end();
await reader.stop();
clearInterval(ticker);
const p99ByPhase = Object.fromEntries(Object.entries(byPhase).map(([phase, values]) => [phase, p99(values)]));
const line = JSON.stringify({ done: true, steady, during, after, p99ByPhase, migration: client.migration() ?? null });
await client.quit();
// Exit once the line is out: a pipe is written asynchronously.
process.stdout.write(`${line}\n`, () => process.exit(0));

/**
 * The cache as a steady state leaves it, so the run need not wait a TTL for
 * one: a key read at rate r (its Zipf share of RATE) is present a share
 * TTL r / (1 + TTL r) of the time (a load, TTL of life, then a wait of 1/r
 * on average for the next read), and when present, its value's age is
 * uniform over the TTL.
 */
async function preload(): Promise<void> {
  const keys = env("KEYS");
  const ttlS = env("TTL_MS") / 1000;
  let harmonic = 0;
  for (let rank = 0; rank < keys; rank++) harmonic += 1 / (rank + 1);
  const random = seededRandom(env("SEED") + 1000);
  const writes: Array<Promise<unknown>> = [];
  for (let rank = 0; rank < keys; rank++) {
    const rate = env("RATE") / (harmonic * (rank + 1));
    if (random() >= (ttlS * rate) / (1 + ttlS * rate)) continue;
    const key = keyName(rank);
    // A preload write that fails on a starved machine leaves a key to load later: not the run's concern.
    writes.push(service.products.set(key, `product ${key}`, { ttlMs: Math.max(1, Math.round(random() * ttlS * 1000)) }).catch(() => undefined));
    if (writes.length >= 500) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
}
