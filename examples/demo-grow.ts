/**
 * npm run demo -- --grow: a plain fleet grown from 3 shards to 4 under a
 * cache service's load, live, twice.
 *
 * Starts four redis-servers on free loopback ports. A product service
 * (client.cache().getOrSet in front of a fake database that counts its
 * loads) reads 10,000 products at random on the first three, then:
 *   1. a fourth shard is added by reconfigure() with a migration (startAt a
 *      couple of seconds ahead, timed phases; docs/scaling.md): moved keys
 *      are copied on their first warm read, so the database sees no storm;
 *   2. the same growth as a plain config switch (reconfigure() without a
 *      migration), on fresh keys: every moved key misses at once.
 * A table, one row a second, shows the phase, reads/s, hit ratio, database
 * loads/s, fallback reads, copies and errors (failed reads and failed
 * commands). About 30 s (`--seconds N` to change); stops what it started.
 */
import { parseArgs } from "node:util";
import { ShardedClient, type ShardConfig } from "shardis";
import { changeFleet, failedCommands, keepReading, productService, readAll } from "./grow.js";
import { ensureServers, startRedisMany, stopAll } from "./local.js";
import { LiveView } from "./support/liveView.js";

const KEYS = 10_000;
const IN_FLIGHT = 32;
const LOADER_MS = 1;
const HEADER = "   time  phase     reads/s  hit ratio  db loads/s  fallback reads  copies  errors";

export async function growDemo(): Promise<void> {
  const { values } = parseArgs({ options: { grow: { type: "boolean" }, seconds: { type: "string", default: "30" } } });
  const seconds = Number(values.seconds);
  if (!(seconds >= 10 && seconds <= 600)) throw new Error(`--seconds must be a number of seconds from 10 to 600 (got ${values.seconds})`);
  // Each timed phase a fifth of the run, at least 4 s: warm copies only until 2 (clockSkewMs + commandTimeoutMs) + copyWindowMs
  // (here 2 (0 + 1 s) + 0.5 s) before its end, so a shorter phase leaves too little time to copy (docs/scaling.md#phases).
  const phaseMs = Math.max(4000, Math.round(seconds / 5) * 1000);
  const leadMs = Math.max(1000, Math.round(seconds / 15) * 1000);

  ensureServers();
  const view = new LiveView();
  view.log("starting 4 redis-servers on free loopback ports (3 shards in use, the fourth empty)...");
  const servers = await startRedisMany(4);
  const all: ShardConfig[] = servers.map((s, i) => ({ name: `s${i}`, master: s.address }));
  for (const shard of all) view.log(`${shard.name}: ${shard.master}`);
  view.log(`workload: getOrSet over ${KEYS} products at random, ${IN_FLIGHT} in flight; the database takes ${LOADER_MS} ms a load\n`);
  try {
    view.log(`== 1. grow 3 -> 4 with a migration: startAt in ${leadMs / 1000} s, phaseMs ${phaseMs / 1000} s (dual, warm, switch, done)`);
    const migrated = await part(view, all, `grow-migrated-${Date.now()}`, leadMs, async (client) => {
      await changeFleet(client, all, { inMs: leadMs, phaseMs, copyWindowMs: 500 });
      // Runs through every phase, and a second of the new placement alone.
      while (client.migration()!.phase !== "done") await new Promise((resolve) => setTimeout(resolve, 100));
      await new Promise((resolve) => setTimeout(resolve, 1000));
    });
    view.log(`\n== 2. the same growth as a plain config switch (reconfigure without a migration), fresh keys`);
    const plain = await part(view, all, `grow-plain-${Date.now()}`, leadMs, async (client) => {
      await changeFleet(client, all);
      await new Promise((resolve) => setTimeout(resolve, phaseMs));
    });
    view.log("");
    view.log(`migration 3 -> 4: ${summary(migrated)}; ${migrated.copies} copies, ${migrated.fallbackReads} fallback reads`);
    view.log(`plain switch 3 -> 4: ${summary(plain)}`);
    const fewer = plain.loads / Math.max(1, migrated.loads);
    view.log(`the migration made ${fewer >= 10 ? `${Math.floor(fewer)}x fewer` : `${fewer.toFixed(1)}x fewer`} database loads than the plain switch.`);
    if (migrated.errors + plain.errors > 0) throw new Error(`${migrated.errors + plain.errors} errors`);
  } finally {
    await stopAll(servers);
    view.log("stopped every process it started.");
  }
}

interface PartResult {
  loads: number;
  reads: number;
  errors: number;
  copies: number;
  fallbackReads: number;
}

/**
 * One growth under load: a client on the first 3 shards, its products
 * warmed, `leadMs` of steady load, then `change` (which resolves when the
 * change has run its course). A row a second; what the change cost in the end.
 */
async function part(view: LiveView, all: ShardConfig[], namespace: string, leadMs: number, change: (client: ShardedClient) => Promise<void>): Promise<PartResult> {
  const client = new ShardedClient({ shards: all.slice(0, 3), commandTimeoutMs: 1000 });
  const service = productService(client, { namespace, loaderMs: LOADER_MS });
  const ids = Array.from({ length: KEYS }, (_, i) => String(i));
  let changed = false;
  try {
    await readAll(service, ids);
    view.log(`warmed: ${service.counts.loads} products loaded on 3 shards`);
    const reader = keepReading(service, { inflight: IN_FLIGHT, next: () => ids[Math.floor(Math.random() * KEYS)]! });
    const started = performance.now();
    const atChange = { loads: 0, reads: 0, errors: 0 };
    let last = { ...service.counts, failed: failedCommands(client) };
    const rows: string[] = [];
    if (!view.interactive) view.log(HEADER);
    let lastAt = started;
    const phaseOf = () => client.migration()?.phase ?? (changed ? "switched" : "3 shards");
    let printed = "";
    const tick = () => {
      const now = { ...service.counts, failed: failedCommands(client) };
      // Per second of the row's own interval: a phase change prints a row early (see below).
      const perSecond = 1000 / Math.max(1, performance.now() - lastAt);
      lastAt = performance.now();
      const reads = Math.round((now.reads - last.reads) * perSecond);
      const loads = Math.round((now.loads - last.loads) * perSecond);
      const status = client.migration();
      const phase = phaseOf();
      printed = phase;
      const errors = now.errors + now.failed;
      const row =
        `${((performance.now() - started) / 1000).toFixed(0).padStart(6)}s  ${phase.padEnd(8)} ${String(reads).padStart(8)}  ` +
        `${(reads ? ((reads - loads) / reads) * 100 : 100).toFixed(1).padStart(8)}%  ${String(loads).padStart(10)}  ` +
        `${String(status?.fallbackReads ?? "-").padStart(14)}  ${String(status?.copies ?? "-").padStart(6)}  ${String(errors).padStart(6)}`;
      last = now;
      rows.push(row);
      if (view.interactive) view.show([HEADER, ...rows.slice(-24)]);
      else view.log(row);
    };
    let ticker = setInterval(tick, 1000);
    // The switch phase lasts only clockSkewMs + commandTimeoutMs (1 s here) and "before" only until startAt, shorter
    // than a row's second could catch: a phase change prints its row at once and restarts the second, so every
    // phase shows (looked for every 50 ms: the phase is a pure function of the clock, cheap to read).
    const watcher = setInterval(() => {
      if (phaseOf() === printed) return;
      clearInterval(ticker);
      tick();
      ticker = setInterval(tick, 1000);
    }, 50);
    try {
      await new Promise((resolve) => setTimeout(resolve, leadMs));
      Object.assign(atChange, service.counts);
      changed = true;
      await change(client);
    } finally {
      clearInterval(ticker);
      clearInterval(watcher);
      await reader.stop();
    }
    const status = client.migration();
    return {
      loads: service.counts.loads - atChange.loads,
      reads: service.counts.reads - atChange.reads,
      errors: service.counts.errors + failedCommands(client),
      copies: status?.copies ?? 0,
      fallbackReads: status?.fallbackReads ?? 0,
    };
  } finally {
    await client.quit();
  }
}

function summary(r: PartResult): string {
  const hit = r.reads ? ((r.reads - r.loads) / r.reads) * 100 : 100;
  return `${r.loads} database loads from the change on, hit ratio ${hit.toFixed(2)}% over ${r.reads} reads, errors ${r.errors}`;
}
