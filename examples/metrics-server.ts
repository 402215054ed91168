/**
 * Prometheus metrics while a cache workload runs: GET, and SET on a miss
 * (cache-aside), against Sentinel-managed shards read through replicas.
 * Serves /metrics (Prometheus text) and /stats (client.stats() as JSON), and
 * prints one plain line a second (no TTY needed).
 *
 *   SENTINELS=127.0.0.1:26379 MASTERS=cache-0,cache-1 npx tsx examples/metrics-server.ts
 *   npx tsx examples/local.ts metrics-server   # starts 2 shards (master + replica) and 3 sentinels for it
 *   curl -s localhost:9464/metrics | grep shardis_cache
 *
 * Env: SENTINELS and MASTERS (required), ALLOWED (allowedAddresses), PORT (9464; 0 picks a free one),
 * DURATION_SECONDS (run until Ctrl-C when unset).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry, collectDefaultMetrics } from "prom-client";
import { ShardedClient } from "shardis";

async function main(): Promise<void> {
  const sentinels = process.env.SENTINELS?.split(",").filter(Boolean) ?? [];
  const masters = process.env.MASTERS?.split(",").filter(Boolean) ?? [];
  if (!sentinels.length || !masters.length) {
    throw new Error("set SENTINELS=host:port,... and MASTERS=name,... (or run: npx tsx examples/local.ts metrics-server)");
  }
  // Every address a sentinel may send the client to, sentinels included (they are learned from each other).
  const allowedAddresses = process.env.ALLOWED?.split(",").filter(Boolean);

  const registry = new Registry();
  collectDefaultMetrics({ register: registry }); // the process's own metrics beside shardis's
  const client = new ShardedClient({
    sentinels,
    shards: masters.map((masterName, i) => ({ name: `s${i}`, masterName })),
    readFrom: "replicaPreferred",
    ...(allowedAddresses ? { allowedAddresses } : {}),
    metrics: { registry, serverStatsIntervalMs: 1000 },
  });

  const server = createServer((req, res) => {
    if (req.url === "/metrics") {
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        (error: Error) => res.writeHead(500).end(error.message),
      );
    } else if (req.url === "/stats") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(client.stats()));
    } else res.writeHead(404).end("try /metrics or /stats\n");
  });
  await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 9464), "127.0.0.1", resolve));
  console.log(`metrics on http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);

  let running = true;
  const stop = () => (running = false);
  process.once("SIGINT", stop).once("SIGTERM", stop);
  const seconds = Number(process.env.DURATION_SECONDS ?? 0);
  const timer = seconds > 0 ? setTimeout(stop, seconds * 1000) : undefined;
  const printer = setInterval(() => console.log(summary(client)), 1000);

  try {
    await client.ready();
    // Cache-aside over 2,000 keys with a skewed popularity: misses at first, then mostly hits.
    const worker = async () => {
      while (running) {
        const key = `item:${Math.floor(Math.random() ** 2 * 2000)}`;
        const cached = await client.get(key).catch(() => null);
        if (cached === null) await client.set(key, `value of ${key}`, "EX", 60).catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    console.log(summary(client));
  } finally {
    clearTimeout(timer);
    clearInterval(printer);
    server.close();
    await client.quit();
  }
}

/** One plain line: commands, hit ratio and p99 per shard. */
function summary(client: ShardedClient): string {
  return client
    .stats()
    .shards.map((s) => {
      const ratio = s.hitRatio === null ? "-" : `${(s.hitRatio * 100).toFixed(1)}%`;
      return `${s.name}: ${s.commands.ok} ok, ${s.commands.timeout + s.commands.connection} failed, hit ratio ${ratio}, p99 ${s.latency.p99Ms ?? "-"} ms`;
    })
    .join(" | ");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
