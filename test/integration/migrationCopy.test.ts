/**
 * copyAll(), the copier for data that is not a cache (docs/scaling.md), on
 * real servers, the phases driven by an injected wall clock: every moving
 * key copied to its new owner with its type and remaining TTL, never over a
 * value written there, never bringing back a delete, a second run a no-op,
 * resumable by cursors, refused outside its phases, and past doneAt + S the
 * moved keys deleted from their old owners.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type ShardedClientOptions } from "../../lib/index.js";
import { MigrationCopyError, MigrationRefusedError } from "../../lib/errors/migration.js";
import { MIGRATION_CLOCK } from "../../lib/exec/migrationLink.js";
import { fleetForFile } from "../support/fleet.js";
import { startFaultProxy } from "../support/faultProxy.js";
import { eventually, READY_MS } from "../support/keys.js";
import { migrate } from "../../scripts/migrate.js";
import { AT, P, PATIENT, S, T0, migrating as migratingOn, owners as ownersOn, type Phase } from "../support/migration.js";

const files = fleetForFile(4);
const fleet = new Proxy({} as typeof files.fleet, { get: (_, name) => Reflect.get(files.fleet, name) });
const migrating = (strategy: "slots" | "ketama", at: Phase) => migratingOn(fleet, strategy, at);
const owners = (strategy: "slots" | "ketama") => ownersOn(fleet, strategy);

const expiry = async (i: number, k: string) => Number(await fleet.raw(i).call("pexpiretime", k));

describe.each(["slots", "ketama"] as const)("copyAll (%s)", (strategy) => {
  it("with a keyPrefix, copies each key under its own name: SCAN's names carry the prefix already, so it is not added again", async () => {
    await fleet.flushAll();
    const where = owners(strategy);
    const { client, at } = migratingOn(fleet, strategy, "before", { redis: { keyPrefix: "p:" } });
    const keys = Array.from({ length: 120 }, (_, i) => `prefixed:${strategy}:${i}`);
    await Promise.all(keys.map((k) => client.set(k, `v:${k}`)));
    // The prefix is part of the key for placement, as in ioredis.
    const moving = keys.filter((k) => where.old(`p:${k}`) !== where.next(`p:${k}`));
    expect(moving.length).toBeGreaterThan(10);
    at("dual");
    const result = await client.migration()!.copyAll({ rate: 100_000 });
    expect(result).toMatchObject({ copied: moving.length, failed: 0, complete: true });
    for (const k of moving) {
      const to = fleet.raw(where.next(`p:${k}`));
      expect(await to.get(`p:${k}`), k).toBe(`v:${k}`);
      expect(await to.exists(`p:p:${k}`), k).toBe(0);
    }
  }, 60_000);

  it("copies strings, hashes and lists with their TTL (none stays none), keeps the old owner's, never overwrites; a second run copies nothing", async () => {
    await fleet.flushAll();
    const where = owners(strategy);
    const { client, at } = migrating(strategy, "before");
    const keys = Array.from({ length: 300 }, (_, i) => `copy:${strategy}:${i}`);
    await Promise.all(
      keys.map(async (k, i) => {
        if (i % 3 === 0) await client.set(k, `v:${k}`);
        else if (i % 3 === 1) await client.hset(k, { a: k, b: "2" });
        else await client.rpush(k, "x", k);
        if (i % 2 === 0) await client.pexpire(k, 600_000);
      }),
    );
    const moving = keys.filter((k) => where.old(k) !== where.next(k));
    expect(moving.length).toBeGreaterThan(30);
    // A value of its own already on the new owner: not overwritten.
    const mine = moving[0]!;
    await fleet.raw(where.next(mine)).set(mine, "written there");

    await expect(client.migration()!.copyAll({ rate: 100_000 })).rejects.toMatchObject({ code: "ERR_SHARDIS_MIGRATION_REFUSED", retryAtMs: T0 + S });
    at("dualEarly");
    await expect(client.migration()!.copyAll({ rate: 100_000 })).rejects.toBeInstanceOf(MigrationRefusedError);
    at("dual");
    const progress: number[] = [];
    const first = await client.migration()!.copyAll({ rate: 100_000, batch: 50, onProgress: (p) => progress.push(p.scanned) });
    expect(first).toMatchObject({ mode: "copy", complete: true, copied: moving.length - 1, skipped: 1, deleted: 0, failed: 0, cursors: {} });
    // Every key on an old owner, and the copies that landed on old owners scanned later (with slots a key may move from s0 to s1).
    expect(first.scanned).toBeGreaterThanOrEqual(keys.length);
    expect(progress.length).toBeGreaterThan(3);
    expect(client.migration()!.copies).toBe(moving.length - 1);

    await Promise.all(
      moving.slice(1).map(async (k) => {
        const [from, to] = [fleet.raw(where.old(k)), fleet.raw(where.next(k))];
        const [oldType, newType, oldAt, newAt] = await Promise.all([from.type(k), to.type(k), expiry(where.old(k), k), expiry(where.next(k), k)]);
        expect(newType).toBe(oldType);
        if (keys.indexOf(k) % 2 === 1) expect([oldAt, newAt]).toEqual([-1, -1]);
        else {
          expect(newAt).toBeGreaterThan(Date.now());
          expect(newAt).toBeLessThanOrEqual(oldAt);
        }
        // The old owner keeps it: it is authoritative until switch.
        expect(await from.exists(k)).toBe(1);
      }),
    );
    expect(await fleet.raw(where.next(mine)).get(mine)).toBe("written there");

    const second = await client.migration()!.copyAll({ rate: 100_000 });
    expect(second).toMatchObject({ copied: 0, skipped: moving.length, failed: 0, complete: true });

    // From switch on, nothing needs a fallback read: every key is on its new owner.
    at("switch");
    await Promise.all(
      moving.slice(1).map(async (k) => {
        const i = keys.indexOf(k);
        if (i % 3 === 0) expect(await client.get(k)).toBe(`v:${k}`);
        else if (i % 3 === 1) expect(await client.hgetall(k)).toEqual({ a: k, b: "2" });
        else expect(await client.lrange(k, 0, -1)).toEqual(["x", k]);
      }),
    );
    expect(client.migration()!.fallbackReads).toBe(0);
  }, 60_000);

  it("writes and deletes racing the copy: a written value is never overwritten by the old one, a deleted key never comes back", async () => {
    await fleet.flushAll();
    const where = owners(strategy);
    const copier = migrating(strategy, "dual");
    const writer = migrating(strategy, "warm");
    const keys = Array.from({ length: 1200 }, (_, i) => `race:${strategy}:${i}`).filter((k) => where.old(k) !== where.next(k));
    await Promise.all(keys.map((k) => fleet.raw(where.old(k)).set(k, "old", "PX", 600_000)));
    const run = copier.client.migration()!.copyAll({ rate: 4000, batch: 20 });
    // While it runs: every third key deleted, every third written, by a process a phase ahead.
    for (let i = 0; i < keys.length; i += 30) {
      await Promise.all(
        keys.slice(i, i + 30).map((k, j) => (j % 3 === 0 ? writer.client.del(k) : j % 3 === 1 ? writer.client.set(k, "new", "PX", 600_000) : undefined)),
      );
    }
    const result = await run;
    expect(result.complete).toBe(true);
    expect(result.failed).toBe(0);
    expect(result.copied).toBeGreaterThan(0);
    copier.at("switch");
    const seen = await copier.client.mget(keys);
    keys.forEach((k, i) => {
      if (i % 30 % 3 === 0) expect([k, seen[i]]).toEqual([k, null]);
      if (i % 30 % 3 === 1) expect([k, seen[i]]).not.toEqual([k, "old"]);
    });
  });
});

describe("copyAll, resumed and retired", () => {
  it("aborted, it returns cursors; resumed from them, it finishes; past doneAt + S it deletes the moved keys from their old owners", async () => {
    await fleet.flushAll();
    const strategy = "ketama";
    const where = owners(strategy);
    const { client, at } = migrating(strategy, "dual");
    const keys = Array.from({ length: 400 }, (_, i) => `resume:${i}`);
    await Promise.all(keys.map((k) => fleet.raw(where.old(k)).set(k, k)));
    const moving = keys.filter((k) => where.old(k) !== where.next(k));
    const stop = new AbortController();
    const part = await client.migration()!.copyAll({ rate: 100_000, batch: 10, signal: stop.signal, onProgress: () => stop.abort() });
    expect(part.complete).toBe(false);
    expect(Object.keys(part.cursors).length).toBeGreaterThan(0);
    expect(part.copied).toBeLessThan(moving.length);
    const rest = await client.migration()!.copyAll({ rate: 100_000, cursors: part.cursors });
    expect(rest.complete).toBe(true);
    expect(part.copied + rest.copied).toBe(moving.length);
    for (const k of moving) expect(await fleet.raw(where.next(k)).get(k)).toBe(k);

    // Past warm's copy window and before doneAt + S: refused, retry at doneAt + S.
    for (const phase of ["switch", "done"] as const) {
      at(phase);
      await expect(client.migration()!.copyAll({ rate: 100_000 })).rejects.toMatchObject({ code: "ERR_SHARDIS_MIGRATION_REFUSED", retryAtMs: T0 + 2 * P + S });
    }
    at("retire");
    const retired = await client.migration()!.copyAll({ rate: 100_000 });
    expect(retired).toMatchObject({ mode: "retire", complete: true, deleted: moving.length, copied: 0, failed: 0 });
    for (const k of moving) expect(await fleet.raw(where.old(k)).exists(k)).toBe(0);
    expect((await client.mget(keys)).filter((v, i) => v !== keys[i])).toEqual([]);
  });
});

describe("copyAll's retire pass never deletes the last copy", () => {
  it("a moving key its new owner does not hold (never copied, or gone from there) stays on its old owner and is counted kept", async () => {
    await fleet.flushAll();
    const strategy = "ketama";
    const where = owners(strategy);
    const { client, at } = migrating(strategy, "dual");
    const keys = Array.from({ length: 300 }, (_, i) => `keep:${i}`);
    await Promise.all(keys.map((k) => fleet.raw(where.old(k)).set(k, k)));
    const moving = keys.filter((k) => where.old(k) !== where.next(k));
    expect((await client.migration()!.copyAll({ rate: 100_000 })).copied).toBe(moving.length);
    // Removed from the new owner after its copy (as an eviction, or a copy that failed), and written on the old owner after the run (never copied).
    const removed = moving.slice(0, 5);
    await Promise.all(removed.map((k) => fleet.raw(where.next(k)).del(k)));
    const late = Array.from({ length: 400 }, (_, i) => `keep:late:${i}`).filter((k) => where.old(k) !== where.next(k)).slice(0, 5);
    await Promise.all(late.map((k) => fleet.raw(where.old(k)).set(k, k)));
    at("retire");
    const told: string[] = [];
    const retired = await client.migration()!.copyAll({ rate: 100_000, onKept: (key, from, to) => told.push(`${key.toString()} ${from} ${to}`) });
    expect(retired).toMatchObject({ mode: "retire", complete: true, deleted: moving.length - removed.length, kept: removed.length + late.length, failed: 0 });
    expect(told.sort()).toEqual([...removed, ...late].map((k) => `${k} s${where.old(k)} s${where.next(k)}`).sort());
    for (const k of [...removed, ...late]) expect(await fleet.raw(where.old(k)).get(k), k).toBe(k);
    for (const k of moving.slice(removed.length)) expect(await fleet.raw(where.old(k)).exists(k), k).toBe(0);
    // Run again: nothing more deleted, the same keys kept.
    expect(await client.migration()!.copyAll({ rate: 100_000 })).toMatchObject({ deleted: 0, kept: removed.length + late.length, failed: 0 });
  });

  it("a key written on its old owner while the retire pass checks its new owner is kept: the delete compares the value it checked", async () => {
    await fleet.flushAll();
    const strategy = "ketama";
    const where = owners(strategy);
    // ketama moves keys to the new shard only: s3, here behind a proxy that holds the look at it back.
    const proxy = await startFaultProxy(fleet.servers[3]!);
    try {
      const shards = fleet.shards.map((s, i) => (i === 3 ? { ...s, master: proxy.address } : s));
      const sharding = { strategy } as const;
      const client = fleet.client({
        shards,
        sharding,
        ...PATIENT,
        migration: { from: { shards: shards.slice(0, 3), sharding }, startAt: T0, phaseMs: P },
        [MIGRATION_CLOCK]: () => AT.retire,
      } as ShardedClientOptions);
      await client.ready();
      const key = Array.from({ length: 400 }, (_, i) => `written:${i}`).find((k) => where.next(k) === 3)!;
      const old = fleet.raw(where.old(key));
      await Promise.all([old.set(key, "copied"), fleet.raw(3).set(key, "copied")]);
      const evals = async () => Number(/cmdstat_eval:calls=(\d+)/.exec(await old.info("commandstats"))?.[1] ?? 0);
      const before = await evals();
      proxy.set("delay", { delayMs: 1500 });
      const run = client.migration()!.copyAll({ rate: 100_000 });
      // The old owner's value was read (its digest): the look at the new owner is held back by the proxy; a write lands now.
      await eventually(async () => expect(await evals()).toBeGreaterThan(before));
      await old.set(key, "written later");
      const result = await run;
      expect(result).toMatchObject({ mode: "retire", deleted: 0, kept: 1, failed: 0 });
      expect(await old.get(key)).toBe("written later");
    } finally {
      proxy.set("pass");
      await proxy.close();
    }
  });
});

describe("copyAll with an old shard down", () => {
  it("the shards that did not fail finish; the run rejects with MigrationCopyError carrying the failed shard's cursor; resumed from it, it finishes", async () => {
    await fleet.flushAll();
    const strategy = "ketama";
    const where = owners(strategy);
    const proxy = await startFaultProxy(fleet.servers[0]!);
    const shards = fleet.shards.map((s, i) => (i === 0 ? { ...s, master: proxy.address } : s));
    const sharding = { strategy } as const;
    // Commands to the stopped shard time out within a second; no breaker (this is about the copier's cursors).
    const client = fleet.client({
      shards,
      sharding,
      ...PATIENT,
      commandTimeoutMs: 1000,
      breaker: false,
      migration: { from: { shards: shards.slice(0, 3), sharding }, startAt: T0, phaseMs: P },
      [MIGRATION_CLOCK]: () => AT.dual,
    } as ShardedClientOptions);
    try {
      await client.ready(READY_MS);
      const keys = Array.from({ length: 600 }, (_, i) => `down:${i}`);
      await Promise.all(keys.map((k) => fleet.raw(where.old(k)).set(k, k)));
      const moving = keys.filter((k) => where.old(k) !== where.next(k));
      let batches = 0;
      // s0 is scanned first: after its first batch, it stops answering.
      const error = await client
        .migration()!
        .copyAll({ rate: 100_000, batch: 10, onProgress: () => void (++batches === 1 && proxy.set("reset")) })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationCopyError);
      const { result, failures } = error as MigrationCopyError;
      expect(error).toMatchObject({ code: "ERR_SHARDIS_MIGRATION_COPY" });
      expect(failures.map((f) => f.shard)).toEqual(["s0"]);
      expect(failures[0]!.error).toMatchObject({ code: expect.stringMatching(/^ERR_SHARDIS_/) });
      expect(result).toMatchObject({ mode: "copy", complete: false });
      expect(Object.keys(result.cursors)).toEqual(["s0"]);
      expect(result.cursors.s0).not.toBe("0");
      // s1 and s2 finished: every moving key of theirs is on its new owner.
      for (const k of moving.filter((k) => where.old(k) !== 0)) expect(await fleet.raw(where.next(k)).get(k), k).toBe(k);
      expect(moving.filter((k) => where.old(k) === 0).length).toBeGreaterThan(result.copied - moving.filter((k) => where.old(k) !== 0).length);
      proxy.set("pass");
      const rest = await client.migration()!.copyAll({ rate: 100_000, cursors: result.cursors });
      expect(rest).toMatchObject({ complete: true, failed: 0 });
      for (const k of moving) expect(await fleet.raw(where.next(k)).get(k), k).toBe(k);
    } finally {
      await client.quit();
      await proxy.close();
    }
  });
});

describe("copyAll at the end of the copy window", () => {
  it("a run still going when warm's copy window ends stops there, with the cursors to finish from after doneAt + S", async () => {
    await fleet.flushAll();
    const where = owners("slots");
    const { client, at } = migrating("slots", "warm");
    const keys = Array.from({ length: 300 }, (_, i) => `late:${i}`);
    await Promise.all(keys.map((k) => fleet.raw(where.old(k)).set(k, k)));
    // copyUntil = T0 + 2P - 2S - W (W = 2 s): the first batch done, the clock passes it.
    const copyUntil = T0 + 2 * P - 2 * S - 2000;
    const stopped = await client.migration()!.copyAll({ rate: 100_000, batch: 10, onProgress: () => void at("switch") });
    expect(stopped).toMatchObject({ mode: "copy", complete: false });
    expect(Object.keys(stopped.cursors).length).toBeGreaterThan(0);
    expect(AT.switch).toBeGreaterThan(copyUntil);
    await expect(client.migration()!.copyAll({ rate: 100_000, cursors: stopped.cursors })).rejects.toMatchObject({ retryAtMs: T0 + 2 * P + S });
  });
});

describe("npm run migrate", () => {
  it("copies the moving keys of the migration a JSON config file describes (the real clock, startAt 10 s ago)", async () => {
    await fleet.flushAll();
    const where = owners("slots");
    const keys = Array.from({ length: 200 }, (_, i) => `cli:${i}`);
    await Promise.all(keys.map((k) => fleet.raw(where.old(k)).set(k, k, "PX", 600_000)));
    const moving = keys.filter((k) => where.old(k) !== where.next(k));
    const dir = await mkdtemp(join(tmpdir(), "shardis-migrate-"));
    try {
      const config = join(dir, "fleet.json");
      const migration = { from: { shards: fleet.shards.slice(0, 3), sharding: { strategy: "slots" } }, startAt: new Date(Date.now() - 10_000).toISOString(), phaseMs: 600_000 };
      await writeFile(config, JSON.stringify({ shards: fleet.shards, sharding: { strategy: "slots" }, ...PATIENT, migration }));
      const lines: string[] = [];
      const result = await migrate({ argv: ["--config", config, "--rate", "100000", "--batch", "50"], log: (line) => lines.push(line) });
      expect(result).toMatchObject({ mode: "copy", complete: true, copied: moving.length, failed: 0 });
      expect(lines.at(-1)).toMatch(/^copy: scanned \d+, copied \d+/);
      for (const k of moving) expect(await fleet.raw(where.next(k)).get(k)).toBe(k);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
