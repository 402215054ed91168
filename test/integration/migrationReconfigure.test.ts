/**
 * reconfigure() is all-or-nothing, on real servers (docs/scaling.md): the new
 * placement or migration takes effect only once every shard it adds is
 * ready. A shard that is not (nothing listening, a handshake that never
 * ends) makes it reject with ReconfigureError, the shards it added taken out
 * again, and the client goes on as before the call (no migration scheduled,
 * the old shards, keys where they were), commands sent during the wait
 * included; a later reconfigure() works, one made during the wait runs after
 * it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthenticationError, ClientClosedError, ReconfigureError, UnknownShardError, type ShardedClient, type ShardedClientOptions } from "../../lib/index.js";
import { MIGRATION_CLOCK } from "../../lib/exec/migrationLink.js";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy.js";
import { fleetForFile } from "../support/fleet.js";
import { eventually, READY_MS } from "../support/keys.js";
import { AT, owners, P, PATIENT, T0 } from "../support/migration.js";
import { freePort } from "../support/processes.js";
import { startRedis } from "../support/redis.js";

const files = fleetForFile(4);
const fleet = new Proxy({} as typeof files.fleet, { get: (_, name) => Reflect.get(files.fleet, name) });

/** A short readiness deadline (commandTimeoutMs): the unreachable shard's wait ends soon. */
const BRIEF = { ...PATIENT, commandTimeoutMs: 1500 } as const;

const names = (client: ShardedClient) => client.topology().shards.map((s) => s.name);
const shard = (i: number) => fleet.shards[i]!;
const three = () => [shard(0), shard(1), shard(2)];
/** A shard whose address refuses connections (a free port, nothing listening). */
const unreachable = async (name = "s3") => ({ name, master: `127.0.0.1:${await freePort()}` });

/** A client of s0..s2 (clock set by the test), with `keys` written through it. */
async function oldFleet(keys: string[], options: Partial<ShardedClientOptions> = {}) {
  const clock = { now: AT.before - 60_000 };
  const client = fleet.client({ shards: three(), ...BRIEF, [MIGRATION_CLOCK]: () => clock.now, ...options } as ShardedClientOptions);
  await client.ready(READY_MS);
  await Promise.all(keys.map((k) => client.set(k, k)));
  return { client, clock };
}

/** Resolves when the client's layout changes (reconfigure() adding its shards, waiting for them). */
const layoutChanged = (client: ShardedClient) => new Promise<void>((resolve) => client.once("topology", () => resolve()));

/** What fan-outs and the client's view show while reconfigure() waits: the shards before the call only. */
async function stillThree(client: ShardedClient): Promise<void> {
  expect(names(client)).toEqual(["s0", "s1", "s2"]);
  expect(await client.forEachShard(async (name) => name)).toEqual(["s0", "s1", "s2"]);
  expect(typeof (await client.dbsize())).toBe("number");
  await client.ready();
  expect(() => client.shard("s3")).toThrow(UnknownShardError);
}

/** Each key is on its owner in the 3-shard placement (read raw). */
async function onOldOwners(keys: string[]): Promise<void> {
  const where = owners(fleet, "slots");
  for (const k of keys) expect(await fleet.raw(where.old(k)).get(k)).toBe(k);
}

describe("a reconfigure() adding a shard that is not ready changes nothing", () => {
  it("with a migration: ReconfigureError naming the shard and its cause; no migration, the old shards, keys on the old placement at every phase's instant; a later reconfigure() with a reachable shard runs its phases", async () => {
    await fleet.flushAll();
    const keys = Array.from({ length: 60 }, (_, i) => `grow:${i}`);
    const { client, clock } = await oldFleet(keys);
    const dead = await unreachable();
    const error = (await client.reconfigure({ shards: [...three(), dead], migration: { startAt: T0, phaseMs: P } }).catch((e: unknown) => e)) as ReconfigureError;
    expect(error).toBeInstanceOf(ReconfigureError);
    expect(error.code).toBe("ERR_SHARDIS_RECONFIGURE");
    expect(error.failures.map((f) => f.shard)).toEqual(["s3"]);
    expect(error.message).toContain("s3");
    expect(error.message).toContain("ECONNREFUSED");
    expect(client.migration()).toBeUndefined();
    expect(client.topology().migration).toBeUndefined();
    expect(names(client)).toEqual(["s0", "s1", "s2"]);
    // No phase ever comes: at each instant the keys read and write on the old placement.
    for (const at of [AT.dual, AT.warm, AT.switch, AT.done]) {
      clock.now = at;
      expect(await client.mget(keys)).toEqual(keys);
      await Promise.all(keys.map((k) => client.set(k, k)));
    }
    await onOldOwners(keys);
    // Retried with a shard that answers (another name: "s3" keeps its nodes for the client's life).
    clock.now = AT.before - 60_000;
    await client.reconfigure({ shards: [...three(), { ...shard(3), name: "s4" }], migration: { startAt: T0, phaseMs: P } });
    expect(client.migration()).toMatchObject({ phase: "before", from: ["s0", "s1", "s2"], to: ["s0", "s1", "s2", "s4"] });
    for (const at of [AT.dual, AT.warm, AT.switch, AT.done] as const) {
      clock.now = at;
      expect(await client.mget(keys)).toEqual(keys);
    }
    expect(client.migration()!.phase).toBe("done");
    await eventually(async () => expect(names(client)).toEqual(["s0", "s1", "s2", "s4"]));
    expect(client.topology().shards.every((s) => s.master?.address !== dead.master)).toBe(true);
  });

  it("a plain switch that removes s1 and adds an unreachable shard: rejects; s1 still serves and keys stay where they were; a later plain switch to a reachable fleet works", async () => {
    await fleet.flushAll();
    const keys = Array.from({ length: 60 }, (_, i) => `switch:${i}`);
    const { client } = await oldFleet(keys);
    const dead = await unreachable();
    await expect(client.reconfigure({ shards: [shard(0), shard(2), dead] })).rejects.toBeInstanceOf(ReconfigureError);
    expect(client.migration()).toBeUndefined();
    expect(names(client)).toEqual(["s0", "s1", "s2"]);
    expect(await client.shard("s1").ping()).toBe("PONG");
    expect(await client.mget(keys)).toEqual(keys);
    await client.set("after", "after");
    expect(await client.get("after")).toBe("after");
    await onOldOwners([...keys, "after"]);
    await client.reconfigure({ shards: [...three(), { ...shard(3), name: "s4" }] });
    expect(names(client)).toEqual(["s0", "s1", "s2", "s4"]);
    await client.set("grown", "v");
    expect(await client.get("grown")).toBe("v");
  });

  it("two shards added, one refusing the handshake (its password is another) and one unreachable: both named, each with its own cause, no secret; nothing changed", async () => {
    const locked = await startRedis({ password: "locked-secret" });
    try {
      const { client } = await oldFleet(["k"]);
      const error = (await client.reconfigure({ shards: [...three(), { name: "s3", master: locked.address }, await unreachable("s4")], migration: { startAt: T0, phaseMs: P } }).catch((e: unknown) => e)) as ReconfigureError;
      expect(error).toBeInstanceOf(ReconfigureError);
      expect(error.failures.map((f) => f.shard)).toEqual(["s3", "s4"]);
      expect(error.failures[0]!.error).toBeInstanceOf(AuthenticationError);
      expect(error.failures[1]!.error.message).toContain("ECONNREFUSED");
      expect(error.message).not.toContain("locked-secret");
      expect(client.migration()).toBeUndefined();
      expect(names(client)).toEqual(["s0", "s1", "s2"]);
      expect(await client.get("k")).toBe("k");
    } finally {
      await locked.stop();
    }
  });

  it("a pattern subscription is not taken to the shard being added (no subscription:error), and is heard on the old shards after the rollback", async () => {
    const { client } = await oldFleet([]);
    const [refused, heard]: [unknown[], string[]] = [[], []];
    client.on("subscription:error", (event) => refused.push(event));
    client.on("pmessage", (_pattern: string, channel: string, message: string) => heard.push(`${channel}:${message}`));
    await client.psubscribe("news:*");
    await expect(client.reconfigure({ shards: [...three(), await unreachable()] })).rejects.toBeInstanceOf(ReconfigureError);
    const publisher = fleet.client({ shards: three() });
    const channels = ["news:a", "news:b", "news:c", "news:d"];
    await eventually(async () => {
      await Promise.all(channels.map((c) => publisher.publish(c, "m")));
      expect(new Set(heard)).toEqual(new Set(channels.map((c) => `${c}:m`)));
    });
    expect(refused).toEqual([]);
  });

  it("close() during the wait: ClientClosedError, no migration scheduled", async () => {
    const { client } = await oldFleet([]);
    const dead = await unreachable();
    const waiting = layoutChanged(client);
    const reconfigured = client.reconfigure({ shards: [...three(), dead], migration: { startAt: T0, phaseMs: P } }).catch((e: unknown) => e);
    await waiting;
    await stillThree(client);
    await client.quit();
    expect(await reconfigured).toBeInstanceOf(ClientClosedError);
    expect(client.migration()).toBeUndefined();
  });
});

describe("while reconfigure() waits for the shard it adds", () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy({ host: fleet.servers[3]!.host, port: fleet.servers[3]!.port });
  });
  afterAll(async () => {
    await proxy.close();
  });
  /** s3 behind the proxy: its handshake waits while the proxy swallows everything. */
  const proxied = () => ({ name: "s3", master: proxy.address });

  it("commands keep the old placement; a second reconfigure() made meanwhile runs once the first has settled", async () => {
    await fleet.flushAll();
    const keys = Array.from({ length: 60 }, (_, i) => `waiting:${i}`);
    const { client } = await oldFleet(keys, PATIENT);
    proxy.set("blackhole");
    const settled: string[] = [];
    const waiting = layoutChanged(client);
    const first = client.reconfigure({ shards: [...three(), proxied()] }).then(() => settled.push("first"));
    // Settled below; caught here too, so a failure on the way leaves no unhandled rejection behind.
    first.catch(() => undefined);
    await waiting;
    await stillThree(client);
    const second = client.reconfigure({ shards: three() }).then(() => settled.push("second"));
    second.catch(() => undefined);
    expect(await client.mget(keys)).toEqual(keys);
    await Promise.all(keys.map((k) => client.set(k, `${k}'`)));
    const where = owners(fleet, "slots");
    for (const k of keys) expect(await fleet.raw(where.old(k)).get(k)).toBe(`${k}'`);
    expect(settled).toEqual([]);
    proxy.set("pass");
    await Promise.all([first, second]);
    expect(settled).toEqual(["first", "second"]);
    expect(names(client)).toEqual(["s0", "s1", "s2"]);
  });

  it("a migration whose startAt passes during the wait: ReconfigureError, nothing scheduled; the same shard named again (same nodes) comes back at its index", async () => {
    await fleet.flushAll();
    const { client, clock } = await oldFleet(["k"], PATIENT);
    proxy.set("blackhole");
    const waiting = layoutChanged(client);
    const late = client.reconfigure({ shards: [...three(), proxied()], migration: { startAt: T0, phaseMs: P } }).catch((e: unknown) => e);
    await waiting;
    await stillThree(client);
    clock.now = AT.dual;
    proxy.set("pass");
    const error = (await late) as ReconfigureError;
    expect(error).toBeInstanceOf(ReconfigureError);
    expect(error.message).toContain("startAt");
    expect(client.migration()).toBeUndefined();
    expect(names(client)).toEqual(["s0", "s1", "s2"]);
    expect(await client.get("k")).toBe("k");
    clock.now = AT.before - 60_000;
    await client.reconfigure({ shards: [...three(), proxied()], migration: { startAt: T0, phaseMs: P } });
    expect(names(client)).toEqual(["s0", "s1", "s2", "s3"]);
    expect(await client.shard("s3").ping()).toBe("PONG");
    expect(client.migration()!.phase).toBe("before");
  });
});
