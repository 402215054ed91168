/**
 * A live migration's fault paths, on real servers (docs/scaling.md): a
 * write of a moving key whose reply is lost (deadline) may still land on the
 * authoritative owner, so the other owner is invalidated all the same (no
 * copy left there to be read in place of the write); reconfigure() racing
 * close() leaves nothing open and nothing hanging.
 */
import { describe, expect, it } from "vitest";
import { ClientClosedError, MigrationCopyError, MigrationRefusedError, MigrationWriteError, NoPermissionError, PartialFailureError, TimeoutError, type ShardedClient } from "../../lib/index.js";
import { startFaultProxy } from "../support/faultProxy.js";
import { fleetForFile } from "../support/fleet.js";
import { eventually, READY_MS } from "../support/keys.js";
import { AT, migrating, owners, P, PATIENT, T0 } from "../support/migration.js";

const files = fleetForFile(4);
const fleet = new Proxy({} as typeof files.fleet, { get: (_, name) => Reflect.get(files.fleet, name) });

/** Connections named `name` on server i (CLIENT LIST, seen by the raw client). */
const named = async (i: number, name: string) => ((await fleet.raw(i).client("LIST")) as string).split("\n").filter((l) => l.includes(` name=${name} `)).length;

/**
 * Writes to server i wait (CLIENT PAUSE WRITE) until resumeWrites(i): a write sent now lands after its caller's deadline,
 * however late a busy machine sends it (a pause of fixed length could end first).
 */
const pauseWrites = (i: number) => fleet.raw(i).call("CLIENT", "PAUSE", "60000", "WRITE");
const resumeWrites = (i: number) => fleet.raw(i).call("CLIENT", "UNPAUSE");

describe("a write of a moving key whose reply is lost", () => {
  it.each([
    ["dual", "set"],
    ["dual", "script"],
    ["switch", "del"],
  ] as const)("in %s (%s): the other owner is invalidated all the same; a warm reader never reads the value from before the write", async (phase, how) => {
    await fleet.flushAll();
    const where = owners(fleet, "slots");
    const key = Array.from({ length: 400 }, (_, i) => `lost:${phase}:${how}:${i}`).find((k) => where.old(k) !== where.next(k))!;
    const [oldOwner, newOwner] = [where.old(key), where.next(key)];
    // The authoritative owner of the phase gets the write; the other holds a copy (made by a warm reader elsewhere).
    const [applied, other] = phase === "switch" ? [newOwner, oldOwner] : [oldOwner, newOwner];
    await fleet.raw(oldOwner).set(key, "before");
    await fleet.raw(newOwner).set(key, "before");
    // Its deadline ends the paused write (any length would); 1 s leaves room for the invalidation sent after it on a busy machine.
    const writer = migrating(fleet, "slots", phase, { commandTimeoutMs: 1000, breaker: { stallMs: 4000 } }).client;
    writer.defineCommand("put", { numberOfKeys: 1, lua: "return redis.call('SET', KEYS[1], ARGV[1])" });
    await writer.ready(READY_MS);
    await pauseWrites(applied);
    try {
      const write =
        how === "set" ? writer.set(key, "after") : how === "script" ? (writer as unknown as { put(k: string, v: string): Promise<unknown> }).put(key, "after") : writer.del(key);
      expect(await write.catch((e: unknown) => e)).toBeInstanceOf(TimeoutError);
    } finally {
      await resumeWrites(applied);
    }
    // The write lands once the pause ends.
    const landed = how === "del" ? null : "after";
    await eventually(async () => expect(await fleet.raw(applied).get(key)).toBe(landed), 5000);
    expect(await fleet.raw(other).exists(key)).toBe(0);
    // A process one phase behind (warm) reads the new owner, falling back to the old one on a miss.
    const reader = migrating(fleet, "slots", "warm").client;
    expect(await reader.get(key)).toBe(landed);
  });
});

describe("a shard that stops answering in warm", () => {
  it("an MGET of moving and staying keys whose new owner is down: PartialFailureError as without a migration; with partial, the others' values in place", async () => {
    await fleet.flushAll();
    const where = owners(fleet, "slots");
    const proxy = await startFaultProxy(fleet.servers[3]!);
    try {
      const shards = fleet.shards.map((s, i) => (i === 3 ? { ...s, master: proxy.address } : s));
      const { client } = migrating(fleet, "slots", "warm", { shards, commandTimeoutMs: 500, breaker: {} });
      await client.ready(READY_MS);
      const keys = Array.from({ length: 400 }, (_, i) => `split:${i}`);
      const toS3 = keys.filter((k) => where.next(k) === 3).slice(0, 2);
      const staying = keys.filter((k) => where.old(k) === where.next(k)).slice(0, 3);
      const asked = [staying[0]!, toS3[0]!, staying[1]!, toS3[1]!, staying[2]!];
      await Promise.all(asked.map((k) => fleet.raw(where.old(k)).set(k, `v:${k}`)));
      proxy.set("blackhole");
      const error = await client.mget(asked).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PartialFailureError);
      expect((error as PartialFailureError).failures.map((f) => f.shard)).toEqual(["s3", "s3"]);
      const partial = await client.mget(asked, { partial: true });
      expect(partial.map((v, i) => (i % 2 === 1 ? v instanceof Error : v))).toEqual([`v:${asked[0]}`, true, `v:${asked[2]}`, true, `v:${asked[4]}`]);
    } finally {
      await proxy.close();
    }
  });

  it("a warm read whose new owner misses and whose old owner is down: a typed error within the deadline, never a hang or a nil", async () => {
    await fleet.flushAll();
    const where = owners(fleet, "slots");
    const key = Array.from({ length: 400 }, (_, i) => `fallback:${i}`).find((k) => where.old(k) === 0 && where.next(k) === 3)!;
    const proxy = await startFaultProxy(fleet.servers[0]!);
    try {
      const shards = fleet.shards.map((s, i) => (i === 0 ? { ...s, master: proxy.address } : s));
      const migration = { from: { shards: shards.slice(0, 3), sharding: { strategy: "slots" } }, startAt: T0, phaseMs: P } as const;
      const { client } = migrating(fleet, "slots", "warm", { shards, migration, commandTimeoutMs: 500, breaker: {} });
      await client.ready(READY_MS);
      await fleet.raw(0).set(key, "old");
      proxy.set("blackhole");
      expect(await client.get(key).catch((e: unknown) => e)).toBeInstanceOf(TimeoutError);
      proxy.set("pass");
      await eventually(async () => expect(await client.get(key)).toBe("old"), 5000);
    } finally {
      await proxy.close();
    }
  });
});

describe("a transaction or dedicated connection held across a phase boundary", () => {
  /** A moving key and a staying key on the same old shard. */
  async function pair() {
    await fleet.flushAll();
    const where = owners(fleet, "slots");
    const keys = Array.from({ length: 400 }, (_, i) => `held:${i}`);
    const moving = keys.find((k) => where.old(k) !== where.next(k))!;
    const staying = keys.find((k) => where.old(k) === where.old(moving) && where.next(k) === where.old(k))!;
    return { where, moving, staying };
  }

  it("a multi() queued in before and exec'd in dual is refused at exec (MigrationRefusedError), nothing written", async () => {
    const { where, moving } = await pair();
    const { client, at } = migrating(fleet, "slots", "before");
    await client.ready();
    const block = client.multi().set(moving, "queued-before");
    at("dual");
    await expect(block.exec()).rejects.toBeInstanceOf(MigrationRefusedError);
    expect(await fleet.raw(where.old(moving)).exists(moving)).toBe(0);
  });

  it("a conn.multi() block on a dedicated connection, queued in before and exec'd in dual, is refused at exec", async () => {
    const { where, moving, staying } = await pair();
    const { client, at } = migrating(fleet, "slots", "before");
    await client.ready();
    const outcome = await client.withConnection(staying, async (conn) => {
      const block = conn.multi().set(moving, "queued-before");
      at("dual");
      return block.exec().catch((e: unknown) => e);
    });
    expect(outcome).toBeInstanceOf(MigrationRefusedError);
    expect(await fleet.raw(where.old(moving)).exists(moving)).toBe(0);
  });

  it("withConnection(staying key): a write of a moving key of the same shard is refused from dual to switch, also when the connection was taken in before", async () => {
    const { where, moving, staying } = await pair();
    const { client, at } = migrating(fleet, "slots", "before");
    await client.ready();
    const outcome = await client.withConnection(staying, async (conn) => {
      at("dual");
      return conn.set(moving, "on-one-owner").catch((e: unknown) => e);
    });
    expect(outcome).toBeInstanceOf(MigrationRefusedError);
    at("warm");
    await expect(client.withConnection(staying, (conn) => conn.set(moving, "x"))).rejects.toBeInstanceOf(MigrationRefusedError);
    expect(await fleet.raw(where.old(moving)).exists(moving)).toBe(0);
    expect(await client.withConnection(staying, (conn) => conn.set(staying, "fine"))).toBe("OK");
  });
});

describe("the near cache during a migration", () => {
  it.each(["dual", "warm", "switch"] as const)("an MGET in %s keeps no moving key, as a GET does not; a write by another process in the same phase is read", async (phase) => {
    await fleet.flushAll();
    const where = owners(fleet, "slots");
    const keys = Array.from({ length: 400 }, (_, i) => `nearmget:${phase}:${i}`);
    const moving = keys.find((k) => where.old(k) !== where.next(k))!;
    const staying = keys.find((k) => where.old(k) === where.next(k))!;
    // Present on both owners (a copy made by a warm reader), as every phase may find it.
    for (const i of [where.old(moving), where.next(moving)]) await fleet.raw(i).set(moving, "v1");
    await fleet.raw(where.old(staying)).set(staying, "s");
    const a = migrating(fleet, "slots", phase, { nearCache: {} }).client;
    const b = migrating(fleet, "slots", phase).client;
    await a.ready();
    // As a GET of it, an MGET of it is never answered from memory from dual to switch (its entry would be tracked on one owner).
    for (let i = 0; i < 3; i++) expect(await a.get(moving)).toBe("v1");
    for (let i = 0; i < 3; i++) expect(await a.mget([moving])).toEqual(["v1"]);
    expect(a.nearCacheStats().hits).toBe(0);
    for (let i = 0; i < 3; i++) expect(await a.mget([moving, staying])).toEqual(["v1", "s"]);
    await b.set(moving, "v2");
    await eventually(async () => expect(await a.mget([moving, staying])).toEqual(["v2", "s"]), 10_000);
    expect(await a.get(moving)).toBe("v2");
  });
});

describe("the migration's own scripts refused by a node's ACL", () => {
  it("a warm read and a write of a moving key whose new owner refuses EVALSHA: NoPermissionError (with the fix, reported once on acl:refused), not Redis's raw NOPERM reply", async () => {
    await fleet.flushAll();
    const where = owners(fleet, "slots");
    const key = Array.from({ length: 400 }, (_, i) => `acl:${i}`).find((k) => where.old(k) !== where.next(k) && where.next(k) === 3)!;
    try {
      await fleet.raw(where.old(key)).set(key, "v");
      const { client } = migrating(fleet, "slots", "warm");
      const refusals: string[] = [];
      client.on("acl:refused", ({ command, fix }) => refusals.push(`${command} ${fix}`));
      await client.ready();
      await fleet.raw(3).acl("SETUSER", "default", "-@scripting");
      const read = await client.get(key).catch((e: unknown) => e);
      expect(read).toBeInstanceOf(NoPermissionError);
      expect(read).toMatchObject({ code: "ERR_SHARDIS_NO_PERMISSION", shard: "s3" });
      const write = await client.set(key, "w").catch((e: unknown) => e);
      expect(write).toBeInstanceOf(MigrationWriteError);
      expect((write as MigrationWriteError).cause).toBeInstanceOf(NoPermissionError);
      expect(refusals.length).toBe(1);
    } finally {
      await fleet.raw(3).acl("SETUSER", "default", "+@all");
    }
  });
});

describe("a warm read's deadline", () => {
  it("is one for the whole read: a new owner slow enough that its GET and its look together outlast it fails with TimeoutError", async () => {
    await fleet.flushAll();
    const where = owners(fleet, "slots");
    const key = Array.from({ length: 400 }, (_, i) => `deadline:${i}`).find((k) => where.old(k) !== where.next(k) && where.next(k) === 3)!;
    const proxy = await startFaultProxy(fleet.servers[3]!);
    try {
      const shards = fleet.shards.map((s, i) => (i === 3 ? { ...s, master: proxy.address } : s));
      const { client } = migrating(fleet, "slots", "warm", { shards, commandTimeoutMs: 800, breaker: { stallMs: 4000 } });
      await client.ready(READY_MS);
      await fleet.raw(where.old(key)).set(key, "old");
      // Each round trip to the new owner takes at least 500 ms (250 each way): the GET (nil) and the look after it, at least 1000 ms.
      proxy.set("delay", { delayMs: 250 });
      expect(await client.get(key).catch((e: unknown) => e)).toBeInstanceOf(TimeoutError);
    } finally {
      await proxy.close();
    }
  });
});

describe("reconfigure() and close()", () => {
  it("a reconfigure() adding a shard, with close() right behind it: settles, and leaves no connection to the shard added", async () => {
    await fleet.flushAll();
    const client = fleet.client({ shards: fleet.shards.slice(0, 3), ...PATIENT, redis: { connectionName: "racing" } });
    await client.ready();
    const reconfigured = client.reconfigure({ shards: fleet.shards, migration: { startAt: Date.now() + 60_000, phaseMs: P } }).catch((e: unknown) => e);
    await client.quit();
    const outcome = await reconfigured;
    expect(outcome === undefined || outcome instanceof ClientClosedError).toBe(true);
    await eventually(async () => expect(await named(3, "racing")).toBe(0));
  });

  it("a reconfigure() after close() rejects with ClientClosedError and opens nothing", async () => {
    const client: ShardedClient = fleet.client({ shards: fleet.shards.slice(0, 3), ...PATIENT, redis: { connectionName: "closed" } });
    await client.ready();
    await client.quit();
    await expect(client.reconfigure({ shards: fleet.shards, migration: { startAt: T0, phaseMs: P } })).rejects.toBeInstanceOf(ClientClosedError);
    expect(await named(3, "closed")).toBe(0);
    expect(client.migration()).toBeUndefined();
    expect(AT.done).toBeGreaterThan(T0);
  });

  it("a copyAll() run when close() comes: stops between keys (its pacing wait ends), rejects with MigrationCopyError naming ClientClosedError, with the cursors to resume from", async () => {
    await fleet.flushAll();
    const where = owners(fleet, "slots");
    const { client } = migrating(fleet, "slots", "dual");
    await client.ready();
    const keys = Array.from({ length: 300 }, (_, i) => `closing:${i}`).filter((k) => where.old(k) !== where.next(k));
    await Promise.all(keys.map((k) => fleet.raw(where.old(k)).set(k, k)));
    const run = client.migration()!.copyAll({ rate: 20, batch: 100 }).catch((e: unknown) => e);
    await eventually(async () => expect(client.migration()!.copies).toBeGreaterThan(0));
    await client.quit();
    const error = (await run) as MigrationCopyError;
    expect(error).toBeInstanceOf(MigrationCopyError);
    expect(error.failures.every((f) => f.error instanceof ClientClosedError)).toBe(true);
    expect(error.result.complete).toBe(false);
    // Keys are not failed one by one after the close: the run stopped.
    expect(error.result.failed).toBeLessThanOrEqual(1);
    expect(Object.keys(error.result.cursors).length).toBeGreaterThan(0);
  });
});
