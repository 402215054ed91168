/**
 * Growing a plain fleet live: 3 shards under a cache workload, a fourth
 * added at run time by reconfigure() with a migration (docs/scaling.md),
 * against the same growth done as a plain switch (the new placement at
 * once). Prints each phase as it is entered, and the database loads
 * (cache misses) and errors each change caused.
 *
 *   SHARDS=127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 npx tsx examples/grow.ts
 *   npx tsx examples/local.ts grow      # starts 4 local redis-servers for it
 *
 * Its pieces (the service, the closed loop of reads, the growth call) are
 * exported for `npm run demo -- --grow` and the bench's growth section.
 */
import { pathToFileURL } from "node:url";
import { ShardedClient, type ShardConfig } from "shardis";

const KEYS = 1000;

/** What a service counted: reads, database loads (cache misses), reads that failed or returned a wrong value. */
export interface ServiceCounts {
  reads: number;
  loads: number;
  errors: number;
}

/**
 * A cache-aside product service over `client`: client.cache().getOrSet in
 * front of a fake database that counts its loads (and takes `loaderMs`).
 */
export function productService(client: ShardedClient, options: { namespace: string; ttlMs?: number; loaderMs?: number }) {
  const counts: ServiceCounts = { reads: 0, loads: 0, errors: 0 };
  const products = client.cache<string>({ namespace: options.namespace, ttlMs: options.ttlMs ?? 600_000, earlyRefresh: false });
  const load = async ({ key }: { key: string }) => {
    counts.loads++;
    if (options.loaderMs) await new Promise((resolve) => setTimeout(resolve, options.loaderMs));
    return `product ${key}`;
  };
  /** One product through the cache; false (and counted) when it failed or came back wrong. */
  const read = async (id: string): Promise<boolean> => {
    counts.reads++;
    const ok = await products.getOrSet(id, load).then((value) => value === `product ${id}`, () => false);
    if (!ok) counts.errors++;
    return ok;
  };
  return { client, counts, read, products };
}

export type ProductService = ReturnType<typeof productService>;

/** Commands that failed, on every shard (the cache layer falls back to the database when Redis fails, so reads alone would hide them). */
export function failedCommands(client: ShardedClient): number {
  let failed = 0;
  for (const shard of client.stats().shards) for (const [outcome, n] of Object.entries(shard.commands)) if (outcome !== "ok") failed += n;
  return failed;
}

/** Every product of `ids` once, 100 requests at a time. */
export async function readAll(service: ProductService, ids: readonly string[]): Promise<void> {
  for (let from = 0; from < ids.length; from += 100) await Promise.all(ids.slice(from, from + 100).map(service.read));
}

/**
 * A closed loop of reads: `inflight` requests at a time, each picking its
 * product with `next`, until stopped. `onRead` gets each one's latency.
 * With `rate` (reads/s in all), each loop waits for its next turn: a
 * steady offered load, so latency is the reads' own, not a saturated
 * process's queue.
 */
export function keepReading(service: ProductService, options: { inflight: number; next: () => string; rate?: number; onRead?: (ms: number, ok: boolean) => void }) {
  let running = true;
  const spacingMs = options.rate ? (options.inflight * 1000) / options.rate : 0;
  const loop = async (_: unknown, index: number) => {
    let turn = performance.now() + (spacingMs * index) / options.inflight;
    while (running) {
      if (spacingMs) {
        await new Promise((resolve) => setTimeout(resolve, turn - performance.now()));
        turn = Math.max(turn + spacingMs, performance.now() - spacingMs);
      }
      const began = performance.now();
      const ok = await service.read(options.next());
      options.onRead?.(performance.now() - began, ok);
    }
  };
  const loops = Array.from({ length: options.inflight }, loop);
  return {
    async stop(): Promise<void> {
      running = false;
      await Promise.all(loops);
    },
  };
}

/**
 * Changes the fleet to `shards` live: with `phaseMs`, a migration starting
 * `inMs` from now (every app server would get the same call, the same
 * startAt: they switch together, by the clock); without, a plain switch.
 * clockSkewMs 0: one process here, no other clock to disagree with.
 */
export function changeFleet(client: ShardedClient, shards: ShardConfig[], timing?: { inMs: number; phaseMs: number; copyWindowMs?: number }): Promise<void> {
  if (!timing) return client.reconfigure({ shards });
  const migration = { startAt: Date.now() + timing.inMs, phaseMs: timing.phaseMs, clockSkewMs: 0, copyWindowMs: timing.copyWindowMs ?? 1000 };
  return client.reconfigure({ shards, migration });
}

/** The first four of SHARDS as named shards (s0..s3). */
export function fourShards(): ShardConfig[] {
  const addresses = process.env.SHARDS?.split(",").filter(Boolean) ?? [];
  if (addresses.length < 4) throw new Error("set SHARDS=host:port,... with 4 servers (or run: npx tsx examples/local.ts grow)");
  return addresses.slice(0, 4).map((master, i) => ({ name: `s${i}`, master }));
}

async function main(): Promise<void> {
  const all = fourShards();
  const ids = Array.from({ length: KEYS }, (_, i) => String(i));
  const service = (namespace: string) => productService(new ShardedClient({ shards: all.slice(0, 3), commandTimeoutMs: 1000 }), { namespace });
  const migrated = service(`grow-migrated-${Date.now()}`);
  const plain = service(`grow-plain-${Date.now()}`);
  migrated.client.on("migration:phase", ({ phase }) => console.log(`phase ${phase}: ${migrated.counts.loads} loads so far`));

  try {
    await Promise.all([readAll(migrated, ids), readAll(plain, ids)]);
    console.log(`warmed: ${migrated.counts.loads} products loaded on 3 shards`);
    migrated.counts.loads = 0;
    plain.counts.loads = 0;

    await changeFleet(migrated.client, all, { inMs: 500, phaseMs: 6000 });
    while (migrated.client.migration()!.phase !== "done") {
      await readAll(migrated, ids);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await readAll(migrated, ids);
    const status = migrated.client.migration()!;
    console.log(
      `migration 3 -> 4: ${migrated.counts.loads} loads, ${migrated.counts.errors} errors; ` +
        `${(status.movingShare * 100).toFixed(0)}% of keys moved, ${status.fallbackReads} fallback reads, ${status.copies} copies`,
    );

    await changeFleet(plain.client, all);
    await readAll(plain, ids);
    console.log(`plain switch 3 -> 4: ${plain.counts.loads} loads, ${plain.counts.errors} errors`);
  } finally {
    await Promise.all([migrated.client.quit(), plain.client.quit()]);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
