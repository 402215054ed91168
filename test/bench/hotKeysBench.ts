/**
 * The hot-key detector under a skewed load on real shards: what it costs
 * (on vs off, same run) and how well it finds the keys that are really hot
 * (recall of the true top 10, the hottest key's estimate, the hot shard).
 */
import type { ShardedClient } from "shardis";
import { zipfSampler } from "../support/zipf.js";
import { runSkewedWorkload, type RunResult, type Target } from "./workload.js";

export interface HotKeysBenchParts {
  /** Detector on (as configured: default sampling) and off, over the same shards. */
  readonly watched: ShardedClient;
  readonly unwatched: ShardedClient;
  readonly keys: string[];
  readonly commands: { keys: number; valueBytes: number; inflight: number; durationMs: number };
  readonly log: (line?: string) => void;
  readonly compare: (variants: Record<string, () => Promise<RunResult>>, ratios: Array<[string, string, string, number?]>) => Promise<unknown>;
}

const target = (c: ShardedClient): Target => ({ get: (k) => c.get(k), set: (k, v) => c.set(k, v) });

export async function hotKeysBench(parts: HotKeysBenchParts): Promise<Record<string, unknown>> {
  const { watched, unwatched, keys, commands, log } = parts;
  log(`\n== hot keys: Zipf(1.0) over ${keys.length} keys, 95% GET / 5% SET, ${commands.inflight} in flight; detector on (default sampling) vs off`);
  const counts = new Uint32Array(keys.length);
  const drawOn = zipfSampler(keys.length, 5);
  const drawOff = zipfSampler(keys.length, 6);
  const results = await parts.compare(
    {
      "shardis zipf": () => runSkewedWorkload(target(watched), keys, { ...commands, draw: drawOn, counts }),
      "shardis zipf (hotKeys off)": () => runSkewedWorkload(target(unwatched), keys, { ...commands, draw: drawOff }),
    },
    [["shardis zipf / shardis zipf (hotKeys off)", "shardis zipf", "shardis zipf (hotKeys off)", 0.98]],
  );
  // Every round fed one window (windowMs covers the run): compare it with what was really sent.
  const truth = [...counts.keys()].sort((a, b) => counts[b]! - counts[a]!).slice(0, 10).map((rank) => keys[rank]!);
  const found = watched.hotKeys();
  const top10 = found.slice(0, 10).map((h) => h.key);
  const recall = truth.filter((key) => top10.includes(key)).length / truth.length;
  const hottest = found[0];
  const trueHottest = counts[keys.indexOf(truth[0]!)]!;
  const loads = watched.shardLoads();
  const busiest = [...loads].sort((a, b) => b.loadShare - a.loadShare)[0];
  log(`  top-10 recall ${recall.toFixed(2)} (target >= 0.9: ${recall >= 0.9 ? "met" : "MISSED"})`);
  if (hottest) {
    const error = Math.abs(hottest.count - trueHottest) / trueHottest;
    log(`  hottest key ${hottest.key} on ${hottest.shard}: estimated ${Math.round(hottest.count)}, sent ${trueHottest} (${(100 * error).toFixed(1)}% off)`);
  }
  if (busiest) {
    log(`  busiest shard ${busiest.shard}: ${(100 * busiest.loadShare).toFixed(1)}% of commands, ${(100 * busiest.hotKeyShare).toFixed(1)}% of them on its top-k keys`);
  }
  return { results, recall, hottest, trueHottest, loads };
}
