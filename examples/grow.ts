/**
 * Growing a plain fleet live: 3 shards under a cache workload, a fourth
 * added at run time by reconfigure() with a migration (docs/scaling.md),
 * against the same growth done as a plain switch (the new placement at
 * once). Prints each phase as it is entered, and the database loads
 * (cache misses) and errors each change caused.
 *
 *   SHARDS=127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 npx tsx examples/grow.ts
 *   npx tsx examples/local.ts grow      # starts 4 local redis-servers for it
 */
import { ShardedClient } from "shardis";

const KEYS = 1000;
const IDS = Array.from({ length: KEYS }, (_, i) => String(i));

/** A cache-aside service over the first `shards`, counting its database loads and errors. */
function service(shards: Array<{ name: string; master: string }>, namespace: string) {
  const client = new ShardedClient({ shards, commandTimeoutMs: 1000 });
  const counts = { loads: 0, errors: 0 };
  const products = client.cache<string>({ namespace, ttlMs: 600_000, earlyRefresh: false });
  const load = async ({ key }: { key: string }) => (counts.loads++, `product ${key}`);
  /** Every product once, 100 requests at a time. */
  const readAll = async () => {
    for (let from = 0; from < KEYS; from += 100) {
      const ids = IDS.slice(from, from + 100);
      const values = await Promise.allSettled(ids.map((id) => products.getOrSet(id, load)));
      counts.errors += values.filter((v, i) => v.status === "rejected" || v.value !== `product ${ids[i]}`).length;
    }
  };
  return { client, counts, readAll };
}

async function main(): Promise<void> {
  const addresses = process.env.SHARDS?.split(",").filter(Boolean) ?? [];
  if (addresses.length < 4) throw new Error("set SHARDS=host:port,... with 4 servers (or run: npx tsx examples/local.ts grow)");
  const all = addresses.slice(0, 4).map((master, i) => ({ name: `s${i}`, master }));
  const migrated = service(all.slice(0, 3), `grow-migrated-${Date.now()}`);
  const plain = service(all.slice(0, 3), `grow-plain-${Date.now()}`);
  migrated.client.on("migration:phase", ({ phase }) => console.log(`phase ${phase}: ${migrated.counts.loads} loads so far`));

  try {
    await Promise.all([migrated.readAll(), plain.readAll()]);
    console.log(`warmed: ${migrated.counts.loads} products loaded on 3 shards`);
    migrated.counts.loads = 0;
    plain.counts.loads = 0;

    // Every app server would get the same call (the same startAt): they switch together, by the clock.
    await migrated.client.reconfigure({ shards: all, migration: { startAt: Date.now() + 500, phaseMs: 6000, clockSkewMs: 0, copyWindowMs: 1000 } });
    while (migrated.client.migration()!.phase !== "done") {
      await migrated.readAll();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await migrated.readAll();
    const status = migrated.client.migration()!;
    console.log(
      `migration 3 -> 4: ${migrated.counts.loads} loads, ${migrated.counts.errors} errors; ` +
        `${(status.movingShare * 100).toFixed(0)}% of keys moved, ${status.fallbackReads} fallback reads, ${status.copies} copies`,
    );

    await plain.client.reconfigure({ shards: all });
    await plain.readAll();
    console.log(`plain switch 3 -> 4: ${plain.counts.loads} loads, ${plain.counts.errors} errors`);
  } finally {
    await Promise.all([migrated.client.quit(), plain.client.quit()]);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
