/**
 * A plain fleet grown live from 3 shards to 4 (docs/scaling.md), on real
 * servers, the phases driven by an injected wall clock: zero misses for
 * keys that existed before, writes and deletes made in one phase seen by
 * processes in the next, TTLs kept by the copies (and no TTL stays none),
 * the delete/copy race, refusals, reconfigure() at run time.
 */
import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { ShardedClient, type ShardedClientOptions } from "../../lib/index.js";
import { MigrationRefusedError, MigrationWriteError } from "../../lib/errors/migration.js";
import { MIGRATION_CLOCK } from "../../lib/exec/migrationLink.js";
import { fleetForFile } from "../support/fleet.js";
import { eventually, READY_MS } from "../support/keys.js";
import { startFaultProxy } from "../support/faultProxy.js";
import { owners as ownersOn } from "../support/migration.js";

const T0 = Date.parse("2026-12-10T10:00:00Z");
/** Room for a machine shared with other test runs: no test here is about timeouts or breakers (except the one that sets its own). */
const PATIENT = { commandTimeoutMs: 5000, breaker: { stallMs: 4000 } } as const;
const P = 60_000;
const AT = { before: T0 - 1000, dual: T0 + 1, warm: T0 + P + 1, switch: T0 + 2 * P - 500, done: T0 + 2 * P + 1 };
type Phase = keyof typeof AT;

const files = fleetForFile(4);
/** The fleet of this file (started in beforeAll). */
const fleet = new Proxy({} as typeof files.fleet, { get: (_, name) => Reflect.get(files.fleet, name) });

/**
 * A client of the fleet after the change (s0..s3), migrating from s0..s2, its clock set by the test. Not the
 * support's migrating(): this file's instants ("dual" at startAt's first millisecond) and patience (the pool's
 * default acquire timeout) are its own.
 */
function migrating(strategy: "slots" | "ketama", at: Phase, extra: Partial<ShardedClientOptions> = {}) {
  const clock = { now: AT[at] };
  const sharding = { strategy } as const;
  const client = fleet.client({
    shards: fleet.shards,
    sharding,
    ...PATIENT,
    migration: { from: { shards: fleet.shards.slice(0, 3), sharding }, startAt: T0, phaseMs: P },
    [MIGRATION_CLOCK]: () => clock.now,
    ...extra,
  } as ShardedClientOptions);
  return { client, clock, at: (phase: Phase) => void (clock.now = AT[phase]) };
}

/** Where a key lives with 3 shards and with 4, by shard index. */
const owners = (strategy: "slots" | "ketama") => ownersOn(fleet, strategy);

/** Waits for every fallback read's copy to have landed (or been skipped). */
async function copiesSettled(client: ShardedClient): Promise<void> {
  await eventually(async () => {
    const s = client.migration()!;
    expect(s.copies + s.copiesSkipped + s.copyFailures).toBe(s.fallbackReads);
  });
}

/**
 * Warm reads go on until `expected` keys were copied (a few rounds at most):
 * on a starved machine a copy may take longer than copyWindowMs and be
 * dropped, and the next fallback read of the key copies it, as under a real load.
 */
async function warmUntilCopied(client: ShardedClient, expected: number, read: () => Promise<unknown>): Promise<void> {
  for (let round = 0; round < 5 && client.migration()!.copies < expected; round++) {
    await read();
    await copiesSettled(client);
  }
  expect(client.migration()!.copies).toBe(expected);
}

describe.each(["slots", "ketama"] as const)("growing 3 -> 4 shards (%s)", (strategy) => {
  it("a load through every phase: no miss for a key that existed, writes and deletes of each phase seen in the next, TTLs kept", async () => {
    await fleet.flushAll();
    const where = owners(strategy);
    const registry = new Registry();
    const { client, at } = migrating(strategy, "before", { metrics: { registry, serverStatsIntervalMs: 0 } });
    const phases: string[] = [];
    client.on("migration:phase", ({ phase, previous }) => phases.push(`${previous}->${phase}`));
    await client.ready();
    const keys = Array.from({ length: 1200 }, (_, i) => `user:${strategy}:${i}`);
    const moving = keys.filter((k) => where.old(k) !== where.next(k));
    expect(moving.length).toBeGreaterThan(keys.length / 8);
    // Before: the old placement only. Every third key without a TTL; one hash (any type moves).
    await Promise.all(keys.map((k, i) => (i % 3 === 0 ? client.set(k, `v0:${k}`) : client.set(k, `v0:${k}`, "PX", 600_000))));
    const hash = Array.from({ length: 50 }, (_, i) => `hash:${strategy}:${i}`).find((k) => where.old(k) !== where.next(k))!;
    await client.hset(hash, { a: "1", b: "2" });
    await client.pexpire(hash, 500_000);
    for (const k of keys) expect(await fleet.raw(where.old(k)).exists(k)).toBe(1);

    // Dual: reads the old owners; a write and a delete of moving keys.
    at("dual");
    const [updated, deleted] = [moving[1]!, moving[2]!];
    await client.set(updated, "v1", "PX", 600_000);
    await client.del(deleted);
    const dualReads = await client.mget(keys);
    expect(keys.filter((k, i) => dualReads[i] === null)).toEqual([deleted]);

    // Warm: the new owners, falling back to the old ones; every key read (half by GET, half by MGET).
    at("warm");
    const half = keys.length / 2;
    const warmGets = await Promise.all(keys.slice(0, half).map((k) => client.get(k)));
    const warmMget = await client.mget(keys.slice(half));
    const warm = [...warmGets, ...warmMget];
    const missed = keys.filter((k, i) => warm[i] === null && k !== deleted);
    expect(missed).toEqual([]);
    expect(warm[keys.indexOf(updated)]).toBe("v1");
    expect(warm[keys.indexOf(deleted)]).toBeNull();
    expect(await client.hgetall(hash)).toEqual({ a: "1", b: "2" });
    await copiesSettled(client);
    // Scans: every key once (not its copy on the new owner too), in both forms.
    const streamed: string[] = [];
    for await (const batch of client.scanStream({ match: `user:${strategy}:*`, count: 500 })) streamed.push(...(batch as string[]));
    expect(streamed.length).toBe(keys.length - 1);
    expect(new Set(streamed).size).toBe(streamed.length);
    const cursored: string[] = [];
    let cursor = "0";
    for (let calls = 0; calls < 1000; calls++) {
      const [next, found] = await client.scan(cursor, "MATCH", `user:${strategy}:*`, "COUNT", 500);
      cursored.push(...found);
      cursor = next;
      if (cursor === "0") break;
    }
    expect(new Set(cursored).size).toBe(keys.length - 1);
    expect(cursored.length).toBe(keys.length - 1);
    const status = client.migration()!;
    expect(status.phase).toBe("warm");
    // Only moving keys fell back (the deleted one had nothing to copy); each is copied once.
    expect(status.fallbackReads).toBeGreaterThanOrEqual(moving.length + 1);
    expect(status.invalidations).toBe(2);
    await warmUntilCopied(client, moving.length, () => client.mget(keys));
    const fallbacks = client.migration()!.fallbackReads;

    // TTLs: a copy never outlives the original (absolute expiry times, one machine's clock), a key without one stays without one.
    const expiry = async (i: number, k: string) => Number(await fleet.raw(i).call("pexpiretime", k));
    for (const k of moving.slice(0, 60).filter((k) => k !== deleted)) {
      const [oldAt, newAt] = await Promise.all([expiry(where.old(k), k), expiry(where.next(k), k)]);
      if (keys.indexOf(k) % 3 === 0 && k !== updated) expect([oldAt, newAt]).toEqual([-1, -1]);
      else {
        expect(newAt).toBeGreaterThan(Date.now());
        expect(newAt).toBeLessThanOrEqual(oldAt);
        expect(newAt).toBeGreaterThan(oldAt - 5000);
      }
    }
    expect(await fleet.raw(where.next(hash)).pttl(hash)).toBeGreaterThan(400_000);

    // Switch, then done: the new owners only, and nothing missing.
    at("switch");
    const switched = await client.mget(keys);
    expect(keys.filter((k, i) => switched[i] === null)).toEqual([deleted]);
    at("done");
    const done = await Promise.all(keys.map((k) => client.get(k)));
    expect(keys.filter((k, i) => done[i] === null)).toEqual([deleted]);
    expect(done[keys.indexOf(updated)]).toBe("v1");
    expect(client.migration()!.phase).toBe("done");
    expect(phases).toEqual(["before->dual", "dual->warm", "warm->switch", "switch->done"]);
    const exported = await registry.metrics();
    expect(exported).toContain('shardis_migration_phase{phase="done"} 1');
    expect(exported).toContain('shardis_migration_phase{phase="warm"} 0');
    expect(exported).toContain(`shardis_migration_copies_total{result="copied"} ${moving.length}`);
    expect(exported).toContain(`shardis_migration_fallback_reads_total ${fallbacks}`);
    expect(exported).toContain('shardis_migration_invalidations_total{result="ok"} 2');
    expect(client.shardOf(moving[0]!)).toBe(`s${where.next(moving[0]!)}`);
  });

  it("processes one phase apart: a write or delete made in one is seen by the other, never a stale value", async () => {
    await fleet.flushAll();
    const where = owners(strategy);
    const a = migrating(strategy, "before");
    const b = migrating(strategy, "before");
    const keys = Array.from({ length: 300 }, (_, i) => `pair:${strategy}:${i}`).filter((k) => where.old(k) !== where.next(k));
    await Promise.all(keys.map((k) => a.client.set(k, "old", "PX", 600_000)));
    const pairs: Array<[Phase, Phase]> = [["before", "dual"], ["dual", "warm"], ["warm", "switch"], ["switch", "done"]];
    for (const [i, [first, second]] of pairs.entries()) {
      a.at(first);
      b.at(second);
      const group = keys.slice(i * 16, i * 16 + 16);
      // Warm readers copy the old value over first: the later write must not leave that copy readable.
      await Promise.all(group.map((k) => b.client.get(k)));
      await Promise.all(group.map((k) => a.client.get(k)));
      await Promise.all(group.map((k, j) => ((j % 2 ? a : b).client.set(k, `new:${first}`, "PX", 600_000))));
      await Promise.all(group.slice(0, 4).map((k, j) => (j % 2 ? b : a).client.del(k)));
      for (const reader of [a, b]) {
        const seen = await reader.client.mget(group);
        expect(seen.slice(0, 4)).toEqual([null, null, null, null]);
        // A key written during warm by a warm writer and then read by a switch reader: never the old value.
        expect(seen.slice(4).filter((v) => v === "old")).toEqual([]);
      }
    }
  });

  it("a value written in warm and not read again is copied to its new owner with the write: a hit at the switch, its TTL kept", async () => {
    await fleet.flushAll();
    const where = owners(strategy);
    const { client, at } = migrating(strategy, "warm");
    await client.ready();
    const keys = Array.from({ length: 200 }, (_, i) => `behind:${strategy}:${i}`).filter((k) => where.old(k) !== where.next(k)).slice(0, 20);
    expect(keys.length).toBeGreaterThan(5);
    // A cache filled after a miss in warm: written once, not read again before the switch.
    await Promise.all(keys.map((k) => client.set(k, `v:${k}`, "PX", 600_000)));
    expect(client.migration()!.writeCopies).toBe(keys.length);
    for (const k of keys) {
      const server = fleet.servers[where.next(k)]!.client();
      expect(await server.get(k)).toBe(`v:${k}`);
      expect(await server.pttl(k)).toBeGreaterThan(500_000);
    }
    at("switch");
    expect(await client.mget(keys)).toEqual(keys.map((k) => `v:${k}`));
    // A delete in warm leaves nothing to copy: absent at the switch.
    at("warm");
    await client.del(keys[0]!);
    at("switch");
    expect(await client.get(keys[0]!)).toBeNull();
    expect(client.migration()!.writeCopyFailures).toBe(0);
    await client.quit();
  });

  it("the delete/copy race: a fallback copy racing a delete never makes the deleted value readable", async () => {
    await fleet.flushAll();
    const where = owners(strategy);
    const reader = migrating(strategy, "before");
    const writer = migrating(strategy, "before");
    const keys = Array.from({ length: 800 }, (_, i) => `race:${strategy}:${i}`).filter((k) => where.old(k) !== where.next(k));
    await Promise.all(keys.map((k) => reader.client.set(k, "doomed", "PX", 600_000)));
    reader.at("warm");
    writer.at("dual");
    // Each key: a warm read (miss on the new owner, read of the old, copy) and a delete, started together.
    for (let from = 0; from < keys.length; from += 40) {
      const batch = keys.slice(from, from + 40);
      await Promise.all(batch.map((k, i) => (i % 2 ? Promise.all([reader.client.get(k), writer.client.del(k)]) : Promise.all([writer.client.del(k), reader.client.get(k)]))));
    }
    await copiesSettled(reader.client);
    const s = reader.client.migration()!;
    // The race happened: some copies were refused by the tombstone.
    expect(s.fallbackReads).toBeGreaterThan(0);
    const after = await reader.client.mget(keys);
    expect(after.filter((v) => v !== null)).toEqual([]);
    const left = await Promise.all(keys.map((k) => fleet.raw(where.next(k)).exists(k)));
    expect(left.filter((n) => n === 1)).toEqual([]);
  });

  it("the delete/copy race, forced: a delete lands between a fallback read of the old owner and its copy; the tombstone refuses the copy", async () => {
    await fleet.flushAll();
    const where = owners(strategy);
    // The reader reaches the new shard s3 through a proxy holding each chunk back: its copy lands well after its read of the old owner.
    const proxy = await startFaultProxy(fleet.servers[3]!);
    try {
      const shards = fleet.shards.map((s, i) => (i === 3 ? { ...s, master: proxy.address } : s));
      const reader = migrating(strategy, "warm", { shards });
      const writer = migrating(strategy, "dual");
      await reader.client.ready();
      const keys = Array.from({ length: 400 }, (_, i) => `forced:${strategy}:${i}`).filter((k) => where.next(k) === 3).slice(0, 4);
      await Promise.all(keys.map((k) => fleet.raw(where.old(k)).set(k, "doomed", "PX", 600_000)));
      proxy.set("delay", { delayMs: 120 });
      for (const [i, k] of keys.entries()) {
        const read = reader.client.get(k);
        read.catch(() => undefined);
        // The read missed the new owner and went to the old one (DUMP sent with it): now the delete, before the copy lands.
        await eventually(async () => expect(reader.client.migration()!.fallbackReads).toBe(i + 1));
        await writer.client.del(k);
        expect(await read).toBe("doomed");
        await copiesSettled(reader.client);
        expect(await fleet.raw(3).exists(k)).toBe(0);
        expect(await writer.client.get(k)).toBeNull();
      }
      // Refused by the tombstone (a copy that still landed first was deleted by the invalidation, as checked above).
      const { copies, copiesSkipped } = reader.client.migration()!;
      expect(copiesSkipped).toBeGreaterThan(0);
      expect(copies + copiesSkipped).toBe(keys.length);
      proxy.set("pass");
      expect(await reader.client.mget(keys)).toEqual(keys.map(() => null));
    } finally {
      await proxy.close();
    }
  });
});

describe.each(["slots", "ketama"] as const)("shrinking 4 -> 3 shards, s1 removed (%s)", (strategy) => {
  it("every key that existed is read through every phase; the cache layer loads nothing again", async () => {
    await fleet.flushAll();
    const after = [fleet.shards[0]!, fleet.shards[2]!, fleet.shards[3]!];
    const clock = { now: AT.before };
    const sharding = { strategy } as const;
    const client = fleet.client({
      shards: after,
      sharding,
      ...PATIENT,
      migration: { from: { shards: fleet.shards, sharding }, startAt: T0, phaseMs: P },
      [MIGRATION_CLOCK]: () => clock.now,
    } as ShardedClientOptions);
    const removed = fleet.client({ shards: fleet.shards, sharding, lazyConnect: true });
    const users = client.cache<string>({ namespace: `shrink-${strategy}`, ttlMs: 600_000, earlyRefresh: false, waitTimeoutMs: 10_000 });
    const ids = Array.from({ length: 400 }, (_, i) => String(i));
    let loads = 0;
    const load = async ({ key }: { key: string }) => (loads++, `user ${key}`);
    await Promise.all(ids.map((id) => users.getOrSet(id, load)));
    expect(loads).toBe(ids.length);
    const onS1 = ids.filter((id) => removed.shardOf(`shrink-${strategy}:${id}`) === "s1");
    expect(onS1.length).toBeGreaterThan(40);
    const three = fleet.client({ shards: after, sharding, lazyConnect: true });
    const moved = ids.filter((id) => removed.shardOf(`shrink-${strategy}:${id}`) !== three.shardOf(`shrink-${strategy}:${id}`));
    for (const phase of ["dual", "warm", "switch", "done"] as const) {
      clock.now = AT[phase];
      const got = await Promise.all(ids.map((id) => users.getOrSet(id, load)));
      expect(got.filter((v, i) => v !== `user ${ids[i]}`)).toEqual([]);
      if (phase === "warm") await warmUntilCopied(client, moved.length, () => Promise.all(ids.map((id) => users.getOrSet(id, load))));
    }
    expect(loads).toBe(ids.length);
    if (strategy === "ketama") expect(moved).toEqual(onS1);
    expect(client.migration()!.copies).toBe(moved.length);
    expect(loads).toBe(ids.length);
    // Done: nothing is read from the removed shard any more.
    await fleet.raw(1).flushall();
    expect((await Promise.all(ids.map((id) => users.get(id)))).filter((v) => v === undefined)).toEqual([]);
  });
});

describe("the near cache during a migration", () => {
  it("an entry kept before the change is not served once another process writes the key's new owner", async () => {
    await fleet.flushAll();
    const where = owners("slots");
    const a = migrating("slots", "before", { nearCache: {} });
    const b = migrating("slots", "done");
    await a.client.ready();
    const key = Array.from({ length: 400 }, (_, i) => `near:${i}`).find((k) => where.old(k) !== where.next(k))!;
    await a.client.set(key, "v0");
    await eventually(async () => {
      expect(await a.client.get(key)).toBe("v0");
      expect(a.client.nearCacheStats().hits).toBeGreaterThan(0);
    });
    a.at("done");
    await b.client.set(key, "v1");
    expect(await a.client.get(key)).toBe("v1");
  });
});

describe("refused and at run time", () => {
  it("a transaction or dedicated connection on a moving key is refused from dual to switch; a script runs on the authoritative owner", async () => {
    await fleet.flushAll();
    const where = owners("slots");
    const { client, at } = migrating("slots", "dual");
    const keys = Array.from({ length: 200 }, (_, i) => `tx:${i}`);
    const moving = keys.find((k) => where.old(k) !== where.next(k))!;
    const staying = keys.find((k) => where.old(k) === where.next(k))!;
    await expect(client.multi().set(moving, "1").exec()).rejects.toBeInstanceOf(MigrationRefusedError);
    await expect(client.withConnection(moving, async () => 1)).rejects.toMatchObject({ code: "ERR_SHARDIS_MIGRATION_REFUSED", phase: "dual" });
    expect(await client.multi().set(staying, "1").get(staying).exec()).toEqual([[null, "OK"], [null, "1"]]);
    client.defineCommand("setget", { numberOfKeys: 1, lua: "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])" });
    const scripted = client as unknown as { setget(key: string, value: string): Promise<string> };
    await fleet.raw(where.next(moving)).set(moving, "stale");
    expect(await scripted.setget(moving, "fresh")).toBe("fresh");
    expect(await fleet.raw(where.old(moving)).get(moving)).toBe("fresh");
    // The script invalidated the new owner: a warm read falls back to the old one.
    expect(await fleet.raw(where.next(moving)).exists(moving)).toBe(0);
    at("warm");
    expect(await client.get(moving)).toBe("fresh");
    at("done");
    expect(await client.multi().set(moving, "1").exec()).toEqual([[null, "OK"]]);
  });

  it("a write whose invalidation of the other owner fails: applied, and a typed MigrationWriteError naming both shards", async () => {
    await fleet.flushAll();
    const where = owners("slots");
    const proxy = await startFaultProxy(fleet.servers[3]!);
    try {
      const shards = fleet.shards.map((s, i) => (i === 3 ? { ...s, master: proxy.address } : s));
      const { client } = migrating("slots", "dual", { shards, commandTimeoutMs: 500, breaker: {} });
      await client.ready(READY_MS);
      const key = Array.from({ length: 400 }, (_, i) => `wfail:${i}`).find((k) => where.next(k) === 3)!;
      proxy.set("blackhole");
      const error = await client.set(key, "applied").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationWriteError);
      expect(error).toMatchObject({ code: "ERR_SHARDIS_MIGRATION_WRITE", applied: `s${where.old(key)}`, pending: "s3", reply: "OK" });
      expect(await fleet.raw(where.old(key)).get(key)).toBe("applied");
      expect(client.migration()!.invalidationFailures).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it("a process that notices two boundaries at once (its timer late) still says every phase, in order", async () => {
    const { client, at } = migrating("slots", "before");
    const phases: string[] = [];
    client.on("migration:phase", ({ phase, previous }) => phases.push(`${previous}->${phase}`));
    await client.ready();
    at("switch");
    await client.get("late:noticed");
    await eventually(async () => expect(phases).toEqual(["before->dual", "dual->warm", "warm->switch"]));
    at("done");
    await client.get("late:noticed");
    await eventually(async () => expect(phases.at(-1)).toBe("switch->done"));
    await client.quit();
  });

  it("reconfigure(): a fourth shard added at run time, the migration started from config, refused while it runs", async () => {
    await fleet.flushAll();
    const clock = { now: AT.before - 60_000 };
    const client = fleet.client({ shards: fleet.shards.slice(0, 3), ...PATIENT, [MIGRATION_CLOCK]: () => clock.now } as ShardedClientOptions);
    await client.ready();
    const keys = Array.from({ length: 300 }, (_, i) => `rc:${i}`);
    await Promise.all(keys.map((k) => client.set(k, k, "PX", 600_000)));
    expect(client.migration()).toBeUndefined();
    await client.reconfigure({ shards: fleet.shards, migration: { startAt: T0, phaseMs: P } });
    expect(client.topology().shards.map((s) => s.name)).toEqual(["s0", "s1", "s2", "s3"]);
    expect(client.migration()!).toMatchObject({ phase: "before", from: ["s0", "s1", "s2"], to: ["s0", "s1", "s2", "s3"] });
    expect(client.topology().migration).toEqual({ phase: "before", from: ["s0", "s1", "s2"], to: ["s0", "s1", "s2", "s3"] });
    for (const phase of ["dual", "warm", "switch", "done"] as const) {
      clock.now = AT[phase];
      if (phase !== "done") await expect(client.reconfigure({ shards: fleet.shards })).rejects.toBeInstanceOf(MigrationRefusedError);
      const values = await client.mget(keys);
      expect(values.filter((v, i) => v !== keys[i])).toEqual([]);
    }
    expect(await fleet.raw(3).dbsize()).toBeGreaterThan(20);
    expect(client.topology().migration).toBeUndefined();
    await expect(client.reconfigure({ shards: [...fleet.shards, { name: "s4", master: "127.0.0.1:1" }], migration: { startAt: clock.now - 1 } })).rejects.toMatchObject({
      code: "ERR_SHARDIS_CONFIG",
    });
  });
});
