/**
 * Scans and released shards across fleet changes, on real servers
 * (docs/scaling.md): a SCAN cursor names shards by index (never reused), so
 * a cursor kept across a reconfigure() that adds a shard goes on and visits
 * each key once; a cursor kept across a change of the placement in force
 * (a plain switch, a migration's `switch`) fails with ScanCursorStaleError
 * instead of skipping or repeating keys; a replica read of a released shard
 * fails with ShardReleasedError.
 */
import { describe, expect, it } from "vitest";
import { ScanCursorStaleError, ShardReleasedError, type ShardedClient, type ShardedClientOptions } from "../../lib/index.js";
import { fleetForFile } from "../support/fleet.js";
import { MIGRATION_CLOCK } from "../../lib/exec/migrationLink.js";
import { AT, migrating, owners, P, PATIENT, T0 } from "../support/migration.js";
import { eventually } from "../support/keys.js";

const files = fleetForFile(4);
const fleet = new Proxy({} as typeof files.fleet, { get: (_, name) => Reflect.get(files.fleet, name) });

const KEYS = Array.from({ length: 400 }, (_, i) => `scan:${i}`);

/** SCANs from `cursor` until `enough` keys came back or the scan ended (bounded): the keys and the cursor to go on from. */
async function scanFrom(client: ShardedClient, cursor: string, enough = Infinity): Promise<{ keys: string[]; cursor: string }> {
  const keys: string[] = [];
  for (let i = 0; i < 1000 && keys.length < enough; i++) {
    const [next, found] = await client.scan(cursor, "MATCH", "scan:*", "COUNT", 20);
    keys.push(...found);
    if ((cursor = next) === "0") break;
  }
  return { keys, cursor };
}

/** The keys the client reads a value of, sorted. */
async function readable(client: ShardedClient): Promise<string[]> {
  const values = await client.mget(KEYS);
  return KEYS.filter((_, i) => values[i] !== null).sort();
}

async function clientWithKeys(extra: Partial<ShardedClientOptions> = {}) {
  await fleet.flushAll();
  const [s0, s1, s2] = fleet.shards as [(typeof fleet.shards)[0], (typeof fleet.shards)[0], (typeof fleet.shards)[0]];
  const clock = { now: AT.before - 60_000 };
  const client = fleet.client({ shards: [s0, s1, s2], ...PATIENT, [MIGRATION_CLOCK]: () => clock.now, ...extra } as ShardedClientOptions);
  await client.ready();
  await client.mset(Object.fromEntries(KEYS.map((k) => [k, k])));
  return { client, clock };
}

describe("a SCAN cursor across a fleet change", () => {
  it("kept across a reconfigure() that grows the fleet by one (a migration), goes on through dual and warm: every key once", async () => {
    const { client, clock } = await clientWithKeys();
    const first = await scanFrom(client, "0", KEYS.length / 2);
    expect(first.cursor).not.toBe("0");
    await client.reconfigure({ shards: fleet.shards, migration: { startAt: T0, phaseMs: P } });
    const second = await scanFrom(client, first.cursor, 100);
    clock.now = AT.dual;
    const third = await scanFrom(client, second.cursor, 50);
    clock.now = AT.warm;
    const rest = await scanFrom(client, third.cursor);
    expect(rest.cursor).toBe("0");
    const all = [...first.keys, ...second.keys, ...third.keys, ...rest.keys];
    expect(all.length).toBe(KEYS.length);
    expect([...all].sort()).toEqual([...KEYS].sort());
  });

  it("kept across a plain switch (a reconfigure() without migration), fails with ScanCursorStaleError; from \"0\" every key once", async () => {
    const { client } = await clientWithKeys();
    const first = await scanFrom(client, "0", KEYS.length / 2);
    await client.reconfigure({ shards: fleet.shards });
    const stale = await client.scan(first.cursor, "MATCH", "scan:*").catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(ScanCursorStaleError);
    expect(stale).toMatchObject({ code: "ERR_SHARDIS_SCAN_CURSOR_STALE" });
    // Keys that moved read as missing (nothing copied them): the scan returns the others, each once.
    const again = await scanFrom(client, "0");
    expect([...again.keys].sort()).toEqual(await readable(client));
  });

  it("kept from warm into switch (the placement in force changes), fails with ScanCursorStaleError; from \"0\" every key once", async () => {
    const { client, clock } = await clientWithKeys();
    await client.reconfigure({ shards: fleet.shards, migration: { startAt: T0, phaseMs: P } });
    clock.now = AT.warm;
    const first = await scanFrom(client, "0", KEYS.length / 2);
    clock.now = AT.switch;
    await expect(client.scan(first.cursor, "MATCH", "scan:*")).rejects.toBeInstanceOf(ScanCursorStaleError);
    // Keys that moved read as missing (nothing copied them): the scan returns the others, each once.
    const again = await scanFrom(client, "0");
    expect([...again.keys].sort()).toEqual(await readable(client));
  });

  it("a scanStream read across a plain switch fails with ScanCursorStaleError instead of missing the shard added", async () => {
    const { client } = await clientWithKeys();
    const stream = client.scanStream({ match: "scan:*", count: 10 });
    const seen: string[] = [];
    const failure = (async () => {
      for await (const batch of stream) {
        seen.push(...(batch as string[]));
        if (seen.length >= 50 && seen.length < 50 + 20) await client.reconfigure({ shards: fleet.shards });
      }
    })().catch((e: unknown) => e);
    expect(await failure).toBeInstanceOf(ScanCursorStaleError);
    expect(seen.length).toBeLessThan(KEYS.length);
  });
});

describe("a keyed scan (HSCAN) of a moving key in warm", () => {
  it("goes on on one owner when a write invalidates the new owner's copy midway: every field at least once", async () => {
    await fleet.flushAll();
    const where = owners(fleet, "slots");
    const key = Array.from({ length: 400 }, (_, i) => `hash:${i}`).find((k) => where.old(k) !== where.next(k))!;
    const fields = Array.from({ length: 2000 }, (_, i) => `f${i}`);
    await fleet.raw(where.old(key)).hset(key, Object.fromEntries(fields.map((f) => [f, "1"])));
    const { client } = migrating(fleet, "slots", "warm");
    const writer = migrating(fleet, "slots", "warm").client;
    await client.ready();
    // A warm read copies the hash to its new owner.
    expect(await client.hget(key, "f0")).toBe("1");
    await eventually(async () => expect(await fleet.raw(where.next(key)).exists(key)).toBe(1));
    const seen = new Set<string>();
    let cursor = "0";
    for (let i = 0; i < 1000; i++) {
      const [next, items] = await client.hscan(key, cursor, "COUNT", 50);
      for (let j = 0; j < items.length; j += 2) seen.add(items[j]!);
      // Midway, another process writes the hash: the old owner, and the new owner's copy invalidated.
      if (i === 3) await writer.hset(key, "added", "1");
      if ((cursor = next) === "0") break;
    }
    expect(fields.filter((f) => !seen.has(f))).toEqual([]);
  });
});

describe("a keyed scan stream of a moving key", () => {
  it("read from warm into switch (its owner changes) fails with ScanCursorStaleError instead of going on on the other server", async () => {
    await fleet.flushAll();
    const where = owners(fleet, "slots");
    const key = Array.from({ length: 400 }, (_, i) => `zset:${i}`).find((k) => where.old(k) !== where.next(k))!;
    const members = Array.from({ length: 2000 }, (_, i) => `m${i}`);
    await fleet.raw(where.old(key)).zadd(key, ...members.flatMap((m, i) => [i, m]));
    const { client, at } = migrating(fleet, "slots", "warm");
    await client.ready();
    expect(await client.zscore(key, "m1")).toBe("1");
    await eventually(async () => expect(await fleet.raw(where.next(key)).exists(key)).toBe(1));
    let batches = 0;
    const failure = (async () => {
      for await (const _ of client.zscanStream(key, { count: 20 })) if (++batches === 2) at("switch");
    })().catch((e: unknown) => e);
    expect(await failure).toBeInstanceOf(ScanCursorStaleError);
  });
});

describe("a released shard", () => {
  it("a read-only script pinned to it under readFrom \"replica\" fails with ShardReleasedError, not NoReplicaAvailableError", async () => {
    const { client } = await clientWithKeys({ readFrom: "replica" });
    client.defineCommand("peek", { numberOfKeys: 0, lua: "return 1", readOnly: true });
    const handle = client.shard("s1") as unknown as { peek(): Promise<unknown> };
    await client.reconfigure({ shards: [fleet.shards[0]!, fleet.shards[2]!] });
    await expect(handle.peek()).rejects.toBeInstanceOf(ShardReleasedError);
  });
});
