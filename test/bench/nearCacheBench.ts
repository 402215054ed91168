/**
 * The near cache under the hot-key workload: Zipf(1.0) over the bench's
 * keys, 95% GET / 5% SET, against one node (shardis with its near cache,
 * ioredis with auto-pipelining, node-redis with its client-side cache, same
 * run) and on three shards (how much the busiest node's command rate drops
 * when the near cache answers the hot keys).
 */
import { createClient } from "@redis/client";
import { Redis } from "ioredis";
import { ShardedClient } from "shardis";
import type { RedisServer } from "../support/redis.js";
import { zipfSampler } from "../support/zipf.js";
import { median, runSkewedWorkload, type RunResult, type Target } from "./workload.js";

export interface NearCacheBenchParts {
  readonly servers: readonly RedisServer[];
  readonly keys: string[];
  readonly commands: { keys: number; valueBytes: number; inflight: number; durationMs: number };
  readonly log: (line?: string) => void;
  readonly compare: (variants: Record<string, () => Promise<RunResult>>, ratios: Array<[string, string, string, number?]>) => Promise<unknown>;
  readonly closers: Array<() => Promise<unknown>>;
}

/** Commands each server processed so far (INFO stats). */
async function processed(admins: readonly Redis[]): Promise<number[]> {
  return Promise.all(admins.map(async (a) => Number(/total_commands_processed:(\d+)/.exec(await a.info("stats"))![1])));
}

export async function nearCacheBench(parts: NearCacheBenchParts): Promise<Record<string, unknown>> {
  const { servers, keys, commands, log, closers } = parts;
  const one = servers[0]!;
  const shards = servers.map((s, i) => ({ name: `s${i}`, master: s.address }));
  const nearOptions = { maxEntries: 50_000 };
  const ioredis = new Redis({ host: one.host, port: one.port, enableAutoPipelining: true });
  const nodeRedis = createClient({ socket: { host: one.host, port: one.port }, RESP: 3, clientSideCache: { ttl: 0, maxEntries: 20_000 } });
  await nodeRedis.connect();
  const nearOne = new ShardedClient({ shards: shards.slice(0, 1), nearCache: nearOptions });
  const plainThree = new ShardedClient({ shards });
  const nearThree = new ShardedClient({ shards, nearCache: nearOptions });
  const admins = servers.map((s) => s.client());
  closers.push(() => ioredis.quit(), () => nodeRedis.quit(), () => nearOne.quit(), () => plainThree.quit(), () => nearThree.quit());
  await Promise.all([nearOne.ready(), plainThree.ready(), nearThree.ready()]);

  const targets: Record<string, Target> = {
    "ioredis 1 node": { get: (k) => ioredis.get(k), set: (k, v) => ioredis.set(k, v) },
    "node-redis CSC 1 node": { get: (k) => nodeRedis.get(k), set: (k, v) => nodeRedis.set(k, v) },
    "shardis near cache 1 node": { get: (k) => nearOne.get(k), set: (k, v) => nearOne.set(k, v) },
    "shardis 3 shards": { get: (k) => plainThree.get(k), set: (k, v) => plainThree.set(k, v) },
    "shardis near cache 3 shards": { get: (k) => nearThree.get(k), set: (k, v) => nearThree.set(k, v) },
  };
  // Per variant and run: the busiest server's commands per second, and per operation of the workload (3-shard variants).
  const busiest: Record<string, number[]> = {};
  const perOp: Record<string, number[]> = {};
  const variants = Object.fromEntries(
    Object.entries(targets).map(([name, target], index) => [
      name,
      async () => {
        const before = await processed(admins);
        const started = performance.now();
        const result = await runSkewedWorkload(target, keys, { ...commands, draw: zipfSampler(keys.length, 100 + index) });
        const seconds = (performance.now() - started) / 1000;
        const after = await processed(admins);
        const most = Math.max(...after.map((n, i) => n - before[i]!));
        (busiest[name] ??= []).push(most / seconds);
        (perOp[name] ??= []).push(most / Math.max(1, result.ops));
        return result;
      },
    ]),
  );
  log(`\n== near cache: Zipf(1.0) over ${keys.length} keys, 95% GET / 5% SET, ${commands.inflight} in flight (near cache ${nearOptions.maxEntries} entries, node-redis CSC 20000)`);
  const results = await parts.compare(variants, [
    ["shardis near cache / ioredis (1 node)", "shardis near cache 1 node", "ioredis 1 node", 2.5],
    ["shardis near cache / node-redis CSC (1 node)", "shardis near cache 1 node", "node-redis CSC 1 node", 4],
    ["shardis near cache / no near cache (3 shards)", "shardis near cache 3 shards", "shardis 3 shards"],
  ]);
  const rate = (name: string) => median(busiest[name] ?? [0]);
  const share = (name: string) => median(perOp[name] ?? [0]);
  const drop = rate("shardis 3 shards") / Math.max(1, rate("shardis near cache 3 shards"));
  // The closed loop runs the near cache's variant at a higher throughput: per operation is the drop at the same application load.
  const dropAtLoad = share("shardis 3 shards") / Math.max(1e-9, share("shardis near cache 3 shards"));
  log(
    `  busiest node on 3 shards: ${Math.round(rate("shardis 3 shards"))} commands/s without the near cache, ${Math.round(rate("shardis near cache 3 shards"))} with it ` +
      `(at its own, higher throughput): ${drop.toFixed(1)}x fewer`,
  );
  log(
    `  busiest node's commands per application operation: ${share("shardis 3 shards").toFixed(3)} without, ${share("shardis near cache 3 shards").toFixed(3)} with: ` +
      `${dropAtLoad.toFixed(1)}x fewer at the same load (target >= 5: ${dropAtLoad >= 5 ? "met" : "MISSED"})`,
  );
  const near = nearThree.nearCacheStats();
  const reads = Math.max(1, near.hits + near.misses);
  log(
    `  near cache on 3 shards: hit ratio ${(near.hits / reads).toFixed(3)}, reads answered without a command of their own ${((near.hits + near.joined) / reads).toFixed(3)} ` +
      `(joined a read in flight ${(near.joined / reads).toFixed(3)}), ${near.entries} entries, ${near.invalidations} invalidations`,
  );
  const csc = (nodeRedis as unknown as { _self?: { clientSideCache?: { stats(): { hitCount: number; missCount: number } } } })._self?.clientSideCache?.stats();
  if (csc) log(`  node-redis CSC hit ratio ${(csc.hitCount / Math.max(1, csc.hitCount + csc.missCount)).toFixed(3)}`);
  return { results, busiest, perOp, drop, dropAtLoad, near };
}
