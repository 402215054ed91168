/**
 * npm run demo: starts three local redis-server processes, runs a mixed
 * workload through one ShardedClient for about 20 s (DEMO_SECONDS to change)
 * with a live per-shard table, then stops everything it started.
 */
import { ShardedClient } from "shardis";
import { ensureServers } from "../test/support/install.js";
import { startRedisMany, stopAll } from "../test/support/redis.js";
import { LiveView } from "./support/liveView.js";
import { ShardStats } from "./support/stats.js";

const SECONDS = Number(process.env.DEMO_SECONDS ?? 20);
const IN_FLIGHT = 64;
const KEYS = 50_000;

async function main(): Promise<void> {
  ensureServers();
  const view = new LiveView();
  view.log("starting 3 redis-server processes on free loopback ports...");
  const servers = await startRedisMany(3);
  const shards = servers.map((s, i) => ({ name: `s${i}`, master: s.address }));
  const client = new ShardedClient({ shards });
  client.on("node:down", (e) => view.log(`node down: ${e.shard} ${e.node}`));
  const stats = new Map(shards.map((s) => [s.name, new ShardStats()]));
  view.log(`shards: ${shards.map((s) => `${s.name}=${s.master}`).join("  ")}`);
  view.log(`workload: GET 50%, SET 25%, HINCRBY 10%, MGET of 5 keys 10%, DEL 5%; ${IN_FLIGHT} in flight, ${SECONDS}s\n`);

  let running = true;
  let total = 0;
  const value = "x".repeat(100);
  const worker = async (seed: number) => {
    let state = seed * 2654435761 + 1;
    const next = () => {
      // xorshift32: low bits are as random as high ones (unlike an LCG's).
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return state >>> 0;
    };
    while (running) {
      const n = next();
      const key = `demo:${n % KEYS}`;
      const roll = next() % 100;
      const started = performance.now();
      let ok = true;
      try {
        if (roll < 50) await client.get(key);
        else if (roll < 75) await client.set(key, value, "EX", 60);
        else if (roll < 85) await client.hincrby(`demo:h:${n % 1000}`, "hits", 1);
        else if (roll < 95) await client.mget(key, `demo:${(n + 1) % KEYS}`, `demo:${(n + 2) % KEYS}`, `demo:${(n + 3) % KEYS}`, `demo:${(n + 4) % KEYS}`);
        else await client.del(key);
      } catch {
        ok = false;
      }
      total++;
      // MGET spans shards; its latency is counted against its first key's shard.
      stats.get(client.shardOf(key))!.record(performance.now() - started, ok);
    }
  };
  const workers = Array.from({ length: IN_FLIGHT }, (_, i) => worker(i + 1));

  const startedAt = Date.now();
  let last = startedAt;
  const render = async (final = false) => {
    const now = Date.now();
    const seconds = (now - last) / 1000;
    last = now;
    const keys = await Promise.all(shards.map((s) => client.shard(s.name).dbsize().catch(() => -1)));
    const lines = [
      `shard  node               ops/s     keys    p50 ms   p99 ms  errors`,
      ...shards.map((s, i) => {
        const t = stats.get(s.name)!.take();
        return `${s.name.padEnd(6)} ${s.master.padEnd(17)} ${String(Math.round(t.ops / seconds)).padStart(7)} ${String(keys[i]).padStart(8)} ${t.p50.toFixed(2).padStart(8)} ${t.p99.toFixed(2).padStart(8)} ${String(t.errors).padStart(7)}`;
      }),
      `elapsed ${Math.round((now - startedAt) / 1000)}s / ${SECONDS}s, ${total} operations`,
    ];
    view.show(lines, final);
  };
  const ticker = setInterval(() => void render(), 1000);
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  clearInterval(ticker);
  running = false;
  await Promise.all(workers);
  await render(true);
  await client.quit();
  await stopAll(servers);
  view.log(`\ndone: ${total} operations in ${SECONDS}s; stopped the servers it started.`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
