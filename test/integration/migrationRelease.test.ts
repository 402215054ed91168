/**
 * Shards a fleet change removes, on real servers (docs/scaling.md): released
 * wherever they were in the client's list, their `client.shard(name)`
 * handles failing typed (never reaching a shard added later), and a client
 * that sends no commands going through a migration's phases on time (its
 * events, the removed shard released at `done`) by the clock alone.
 */
import { describe, expect, it } from "vitest";
import { ShardReleasedError, UnknownShardError, type ShardedClient, type ShardedClientOptions } from "../../lib/index.js";
import { fleetForFile } from "../support/fleet.js";
import { eventually } from "../support/keys.js";
import { MIGRATION_CLOCK } from "../../lib/exec/migrationLink.js";
import { AT, P, PATIENT, T0 } from "../support/migration.js";

const files = fleetForFile(4);
const fleet = new Proxy({} as typeof files.fleet, { get: (_, name) => Reflect.get(files.fleet, name) });

/** Connections named `name` on server i (CLIENT LIST, seen by the raw client). */
const named = async (i: number, name: string) => ((await fleet.raw(i).client("LIST")) as string).split("\n").filter((l) => l.includes(` name=${name} `)).length;
const names = (client: ShardedClient) => client.topology().shards.map((s) => s.name);

describe("removed shards, wherever they are in the list", () => {
  it("a reconfigure() that removes a shard from the middle (a plain switch) closes its connections; scans, fan-outs and forEachShard pass it by", async () => {
    await fleet.flushAll();
    const [s0, s1, s2] = fleet.shards as [(typeof fleet.shards)[0], (typeof fleet.shards)[0], (typeof fleet.shards)[0]];
    const client = fleet.client({ shards: [s0, s1, s2], ...PATIENT, redis: { connectionName: "middle" } });
    await client.ready();
    await eventually(async () => expect(await named(1, "middle")).toBe(1));
    await client.reconfigure({ shards: [s0, s2] });
    await eventually(async () => expect(await named(1, "middle")).toBe(0));
    expect(names(client)).toEqual(["s0", "s2"]);
    expect(() => client.shard("s1")).toThrow(UnknownShardError);
    expect(() => client.shard("s1")).toThrow('no shard named "s1" (shards: s0, s2)');
    await client.set("k", "v");
    expect(await client.get("k")).toBe("v");
    expect(await client.forEachShard(async (name) => name)).toEqual(["s0", "s2"]);
    expect(await client.dbsize()).toBe(1);
    const scanned: string[] = [];
    let cursor = "0";
    for (let i = 0; i < 20; i++) {
      const [next, keys] = await client.scan(cursor, "COUNT", 100);
      scanned.push(...keys);
      if ((cursor = next) === "0") break;
    }
    expect(scanned).toEqual(["k"]);
    expect(client.explain("dbsize").parts.map((p) => p.shard)).toEqual(["s0", "s2"]);
    expect(await named(1, "middle")).toBe(0);
    // Named again with its nodes: the same shard, back in service.
    await client.reconfigure({ shards: [s0, s1, s2] });
    expect(names(client)).toEqual(["s0", "s1", "s2"]);
    expect(await client.shard("s1").ping()).toBe("PONG");
  });

  it("a shard a reconfigure() migration removes from the middle is released at done; keys read through every phase", async () => {
    await fleet.flushAll();
    const [s0, s1, s2] = fleet.shards as [(typeof fleet.shards)[0], (typeof fleet.shards)[0], (typeof fleet.shards)[0]];
    const clock = { now: AT.before - 60_000 };
    const client = fleet.client({ shards: [s0, s1, s2], ...PATIENT, redis: { connectionName: "shrunk" }, [MIGRATION_CLOCK]: () => clock.now } as ShardedClientOptions);
    await client.ready();
    const keys = Array.from({ length: 60 }, (_, i) => `mid:${i}`);
    await Promise.all(keys.map((k) => client.set(k, k)));
    const handle = client.shard("s1");
    await client.reconfigure({ shards: [s0, s2], migration: { startAt: T0, phaseMs: P } });
    for (const at of [AT.dual, AT.warm, AT.switch]) {
      clock.now = at;
      expect(await client.mget(keys)).toEqual(keys);
    }
    expect(await named(1, "shrunk")).toBeGreaterThanOrEqual(1);
    clock.now = AT.done;
    expect(await client.mget(keys)).toEqual(keys);
    await eventually(async () => expect(await named(1, "shrunk")).toBe(0));
    expect(names(client)).toEqual(["s0", "s2"]);
    await expect(handle.ping()).rejects.toBeInstanceOf(ShardReleasedError);
  });

  it("a client.shard(name) handle of a removed shard fails with ShardReleasedError, also once a shard added later could have taken its place", async () => {
    await fleet.flushAll();
    const [s0, s1, s2, s3] = fleet.shards as [(typeof fleet.shards)[0], (typeof fleet.shards)[0], (typeof fleet.shards)[0], (typeof fleet.shards)[0]];
    const client = fleet.client({ shards: [s0, s1, s2], ...PATIENT });
    await client.ready();
    const [middle, last] = [client.shard("s1"), client.shard("s2")];
    await client.reconfigure({ shards: [s0] });
    await fleet.raw(3).set("where", "s3");
    await client.reconfigure({ shards: [s0, s3] });
    expect(names(client)).toEqual(["s0", "s3"]);
    for (const handle of [middle, last]) {
      await expect(handle.get("where")).rejects.toBeInstanceOf(ShardReleasedError);
      await expect(handle.get("where")).rejects.toMatchObject({ code: "ERR_SHARDIS_SHARD_RELEASED", shard: handle.name });
    }
    expect([middle.name, last.name]).toEqual(["s1", "s2"]);
    expect(await client.shard("s3").get("where")).toBe("s3");
  });
});

describe("a client that sends no commands during a migration", () => {
  it("emits each phase's event at its boundary and releases the shard a shrink removed at done, by the clock alone", async () => {
    await fleet.flushAll();
    const sharding = { strategy: "ketama" } as const;
    const phases: string[] = [];
    // Real time, short phases (phaseMs >= 2 (clockSkewMs + commandTimeoutMs + copyWindowMs)), each boundary at least 1 s
    // from the next, so a busy machine's late timer still sees every phase.
    const client = fleet.client({
      shards: [fleet.shards[0]!, fleet.shards[2]!, fleet.shards[3]!],
      sharding,
      commandTimeoutMs: 1000,
      redis: { connectionName: "idle" },
      migration: { from: { shards: fleet.shards, sharding }, startAt: Date.now() + 1000, phaseMs: 2100, clockSkewMs: 0, copyWindowMs: 50 },
    });
    client.on("migration:phase", ({ phase, previous }) => phases.push(`${previous}->${phase}`));
    await client.ready(5000);
    await eventually(async () => expect(await named(1, "idle")).toBeGreaterThanOrEqual(1));
    await eventually(async () => expect(phases).toEqual(["before->dual", "dual->warm", "warm->switch", "switch->done"]), 15_000);
    await eventually(async () => expect(await named(1, "idle")).toBe(0));
    expect(names(client)).toEqual(["s0", "s2", "s3"]);
    await client.quit();
    expect(await named(0, "idle")).toBe(0);
  });
});
