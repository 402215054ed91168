/**
 * Two builds of shardis in one process, same servers, same closed loop,
 * alternating round by round (A B, B A, ...): what a change costs where
 * nothing else differs. The other build is any dist/ (a checkout of the
 * commit before, built with `npx tsc -p tsconfig.build.json`).
 *
 *   npx tsx test/bench/abBench.ts --other /path/to/old/dist/index.js [--rounds 10 --seconds 3 --inflight 256]
 *
 * --near-hits: instead, GETs answered by each build's near cache (the whole
 * call path, no I/O; nearHits.ts), 300,000 per round, CPU per call: far
 * steadier than the closed loop on a shared machine, for changes to the
 * call path (tracing's checks, for one).
 */
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { ShardedClient } from "shardis";
import { startRedisMany, stopAll } from "../support/redis.js";
import { nearHits, warmNearCache } from "./nearHits.js";
import { keyNames, median, preload, runWorkload, type RunResult, type Target } from "./workload.js";

const { values: flags } = parseArgs({
  options: {
    other: { type: "string" },
    rounds: { type: "string", default: "10" },
    seconds: { type: "string", default: "3" },
    inflight: { type: "string", default: "256" },
    keys: { type: "string", default: "100000" },
    "near-hits": { type: "boolean", default: false },
  },
});

async function main(): Promise<void> {
  if (!flags.other) throw new Error("--other /path/to/dist/index.js (the build to compare with)");
  const other = (await import(pathToFileURL(flags.other).href)) as { ShardedClient: typeof ShardedClient };
  const servers = await startRedisMany(3);
  const shards = servers.map((s, i) => ({ name: `s${i}`, master: s.address }));
  const near = flags["near-hits"] ? { nearCache: {} } : {};
  const clients = { "this build": new ShardedClient({ shards, ...near }), "other build": new other.ShardedClient({ shards, ...near }) };
  const options = { keys: Number(flags.keys), valueBytes: 100, inflight: Number(flags.inflight), durationMs: Number(flags.seconds) * 1000 };
  const keys = keyNames(options.keys);
  const target = (c: ShardedClient): Target => ({ get: (k) => c.get(k), set: (k, v) => c.set(k, v) });
  try {
    await preload(target(clients["this build"]), keys, "v".repeat(options.valueBytes));
    if (flags["near-hits"]) return await nearHitPairs(clients, keys.slice(0, 1000));
    const names = Object.keys(clients) as Array<keyof typeof clients>;
    for (const name of names) await runWorkload(target(clients[name]), keys, { ...options, durationMs: 1000 });
    const results: Record<string, RunResult[]> = { "this build": [], "other build": [] };
    for (let round = 0; round < Number(flags.rounds); round++) {
      for (const name of round % 2 === 0 ? names : [...names].reverse()) {
        const result = await runWorkload(target(clients[name]), keys, options);
        results[name]!.push(result);
        console.log(`round ${round + 1}  ${name.padEnd(12)} ${Math.round(result.opsPerSec)} ops/s  cpu ${result.cpuMicrosPerOp.toFixed(2)} us/op`);
      }
    }
    const ratios = results["this build"]!.map((r, i) => r.opsPerSec / results["other build"]![i]!.opsPerSec);
    const cpu = (name: string) => median(results[name]!.map((r) => r.cpuMicrosPerOp));
    console.log(`this / other: median ${median(ratios).toFixed(3)}x (rounds ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}); cpu ${cpu("this build").toFixed(2)} vs ${cpu("other build").toFixed(2)} us/op`);
  } finally {
    await Promise.allSettled(Object.values(clients).map((c) => c.quit()));
    await stopAll(servers);
  }
}

/** The builds' near-cache hits, alternating round by round (2 rounds of warm-up dropped); CPU per call. */
async function nearHitPairs(clients: Record<"this build" | "other build", ShardedClient>, keys: string[]): Promise<void> {
  const names = Object.keys(clients) as Array<keyof typeof clients>;
  for (const name of names) await warmNearCache(clients[name], keys);
  const cpu: Record<string, number[]> = { "this build": [], "other build": [] };
  for (let round = 0; round < Number(flags.rounds) + 2; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) cpu[name]!.push((await nearHits(clients[name], keys, 300_000)).cpuMicrosPerOp);
  }
  const [mine, theirs] = [cpu["this build"]!.slice(2), cpu["other build"]!.slice(2)];
  const ratios = mine.map((v, i) => v / theirs[i]!);
  console.log(
    `near hits, CPU per call: this ${median(mine).toFixed(3)} µs, other ${median(theirs).toFixed(3)} µs; this / other ${median(ratios).toFixed(3)}x (rounds ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)})`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
