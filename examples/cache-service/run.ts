/**
 * npm run example:cache: the article's architecture on this machine. App
 * servers -> sharded Redis -> a persistent store: three local redis-server
 * shards, SQLite (or PostgreSQL when DATABASE_URL is set) seeded with 100k
 * products, and three app servers (server.ts) reading through one shardis
 * cache. Then, from this process, phases of concurrent requests: a cold
 * start, the warm steady state, a hot product expiring under 1,000
 * concurrent requests spread over the three servers, and a batch lookup.
 * Prints, per phase, requests, database reads, hit ratio and p99.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureServers, startRedisMany, stopAll } from "../local.js";
import { closeAgent, phase, startServers, stopServers, type PhaseResult } from "./load.js";
import { openStore } from "./store.js";

/** The i-th request's product, among 1..99, skewed: the first ones far more often (100^u for u spread over [0, 1)). */
const popular = (i: number) => Math.floor(100 ** (((i * 7919) % 1000) / 1000));

export async function runExample(
  options: { databaseUrl?: string; log?: (line: string) => void; timeoutScale?: number } = {},
): Promise<PhaseResult[]> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  ensureServers();
  const redis = await startRedisMany(3);
  const dir = mkdtempSync(join(tmpdir(), "shardis-cache-example-"));
  const databaseUrl = options.databaseUrl;
  const env: Record<string, string> = { SHARDS: redis.map((s) => s.address).join(","), SQLITE_PATH: join(dir, "products.db") };
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  if (options.timeoutScale) env.TIMEOUT_SCALE = String(options.timeoutScale);
  try {
    // Seeded once here, before the app servers open it.
    const store = await openStore({ databaseUrl, sqlitePath: env.SQLITE_PATH! });
    log(`database: ${store.kind}${databaseUrl ? "" : ` (${env.SQLITE_PATH})`}, 100000 products; redis shards: ${env.SHARDS}`);
    await store.close();
    const servers = await startServers(3, env);
    log(`app servers on ports ${servers.map((s) => s.port).join(", ")}\n`);
    const results: PhaseResult[] = [];
    const run = async (result: Promise<PhaseResult>) => {
      const r = await result;
      results.push(r);
      log(
        `${r.phase.padEnd(42)} ${String(r.requests).padStart(6)} requests, ${String(r.failed).padStart(3)} failed, ` +
          `${String(r.databaseReads).padStart(5)} database reads, hit ratio ${r.hitRatio === null ? "-" : r.hitRatio.toFixed(3)}, p99 ${r.p99Ms.toFixed(1)} ms`,
      );
    };
    try {
      await run(phase("cold start: 100 products, 1,000 concurrent", servers, 5000, 1000, (i) => `/products/${popular(i)}`));
      await run(phase("warm: the same products", servers, 20_000, 1000, (i) => `/products/${popular(i)}`));
      // The hottest product's entry goes away, as at its expiry, then 1,000 requests for it arrive at once on three servers.
      await Promise.all(servers.slice(0, 1).map((s) => fetch(`http://127.0.0.1:${s.port}/products/1/cache`, { method: "DELETE" })));
      await run(phase("hot product expired, 1,000 concurrent on 3 servers", servers, 1000, 1000, () => "/products/1"));
      // 200 batches of 50 products not asked for yet: each batch is one MGET per shard and one query for its misses.
      await run(phase("batches of 50 (one MGET per shard, one query)", servers, 200, 50, (i) => `/products?ids=${Array.from({ length: 50 }, (_, j) => 1000 + i * 50 + j).join(",")}`));
      await run(phase("unknown products (404, not-found cached 5 s)", servers, 2000, 500, (i) => `/products/${200_000 + (i % 10)}`, 404));
      // Without this a p99 of hundreds of ms at 1,000 concurrent reads like the cache's latency (docs/caching.md).
      log(
        `\np99 is this load generator's view: with 1,000 requests in flight against three single-threaded app servers on ` +
          `this machine, the last of each wave wait behind the others' HTTP and JSON work; a cache hit itself is one GET ` +
          `to its shard plus about 1.3 us of client CPU (docs/caching.md).`,
      );
    } finally {
      closeAgent();
      await stopServers(servers);
    }
    return results;
  } finally {
    await stopAll(redis);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  runExample({ databaseUrl: process.env.DATABASE_URL }).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`example failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
