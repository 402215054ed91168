/**
 * A live migration's fault paths, on real servers (docs/scaling.md): a
 * write of a moving key whose reply is lost (deadline) may still land on the
 * authoritative owner, so the other owner is invalidated all the same (no
 * copy left there to be read in place of the write); reconfigure() racing
 * close() leaves nothing open and nothing hanging.
 */
import { describe, expect, it } from "vitest";
import { ClientClosedError, TimeoutError, type ShardedClient } from "../../lib/index.js";
import { fleetForFile } from "../support/fleet.js";
import { eventually } from "../support/keys.js";
import { AT, migrating, owners, P, PATIENT, T0 } from "../support/migration.js";

const files = fleetForFile(4);
const fleet = new Proxy({} as typeof files.fleet, { get: (_, name) => Reflect.get(files.fleet, name) });

/** Connections named `name` on server i (CLIENT LIST, seen by the raw client). */
const named = async (i: number, name: string) => ((await fleet.raw(i).client("LIST")) as string).split("\n").filter((l) => l.includes(` name=${name} `)).length;

/** Writes to server i wait for `ms` (CLIENT PAUSE WRITE): a write sent now lands after its caller's deadline. */
const pauseWrites = (i: number, ms: number) => fleet.raw(i).call("CLIENT", "PAUSE", String(ms), "WRITE");

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
    const writer = migrating(fleet, "slots", phase, { commandTimeoutMs: 300, breaker: { stallMs: 4000 } }).client;
    writer.defineCommand("put", { numberOfKeys: 1, lua: "return redis.call('SET', KEYS[1], ARGV[1])" });
    await writer.ready();
    await pauseWrites(applied, 1000);
    const write =
      how === "set" ? writer.set(key, "after") : how === "script" ? (writer as unknown as { put(k: string, v: string): Promise<unknown> }).put(key, "after") : writer.del(key);
    expect(await write.catch((e: unknown) => e)).toBeInstanceOf(TimeoutError);
    // The write lands once the pause ends.
    const landed = how === "del" ? null : "after";
    await eventually(async () => expect(await fleet.raw(applied).get(key)).toBe(landed), 5000);
    expect(await fleet.raw(other).exists(key)).toBe(0);
    // A process one phase behind (warm) reads the new owner, falling back to the old one on a miss.
    const reader = migrating(fleet, "slots", "warm").client;
    expect(await reader.get(key)).toBe(landed);
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
});
