/**
 * The rest of the fleet through a live migration (docs/scaling.md), on real
 * servers, the phases driven by an injected wall clock: pub/sub (a channel
 * listened to on both owners while it moves), the shards a shrink removed
 * released once it is done, and keyless commands where `keyless` says.
 */
import { describe, expect, it } from "vitest";
import { type ShardedClientOptions } from "../../lib/index.js";
import { MIGRATION_CLOCK } from "../../lib/exec/migrationLink.js";
import { fleetForFile } from "../support/fleet.js";
import { eventually } from "../support/keys.js";
import { startFaultProxy } from "../support/faultProxy.js";
import { AT, P, PATIENT, T0, migrating as migratingOn, owners as ownersOn, type Phase } from "../support/migration.js";

const files = fleetForFile(4);
/** The fleet of this file (started in beforeAll). */
const fleet = new Proxy({} as typeof files.fleet, { get: (_, name) => Reflect.get(files.fleet, name) });
const migrating = (strategy: "slots" | "ketama", at: Phase, extra: Partial<ShardedClientOptions> = {}) => migratingOn(fleet, strategy, at, extra);
const owners = (strategy: "slots" | "ketama") => ownersOn(fleet, strategy);

describe("removed shards released", () => {
  /** Connections named `name` on server i (CLIENT LIST, seen by the raw client). */
  const named = async (i: number, name: string) => ((await fleet.raw(i).client("LIST")) as string).split("\n").filter((l) => l.includes(` name=${name} `)).length;

  it("once a shrink is done, the removed shard's connections and pool are closed and it leaves the topology; quit() is clean", async () => {
    await fleet.flushAll();
    const after = [fleet.shards[0]!, fleet.shards[2]!, fleet.shards[3]!];
    const clock = { now: AT.dual + 10_000 };
    const sharding = { strategy: "ketama" } as const;
    const client = fleet.client({
      shards: after,
      sharding,
      ...PATIENT,
      redis: { connectionName: "shrinking" },
      migration: { from: { shards: fleet.shards, sharding }, startAt: T0, phaseMs: P },
      [MIGRATION_CLOCK]: () => clock.now,
    } as ShardedClientOptions);
    await client.ready();
    const keys = Array.from({ length: 100 }, (_, i) => `rel:${i}`);
    await Promise.all(keys.map((k) => client.set(k, k)));
    // The copier borrows a pooled connection from every old owner, s1 included; a pattern is listened to on every shard.
    expect((await client.migration()!.copyAll({ rate: 100_000 })).complete).toBe(true);
    await client.psubscribe("rel-*");
    await eventually(async () => expect(await named(1, "shrinking")).toBeGreaterThanOrEqual(3));
    expect(client.topology().shards.map((s) => s.name)).toEqual(["s0", "s2", "s3", "s1"]);
    clock.now = AT.done;
    expect(await client.mget(keys)).toEqual(keys);
    await eventually(async () => expect(await named(1, "shrinking")).toBe(0));
    expect(client.topology().shards.map((s) => s.name)).toEqual(["s0", "s2", "s3"]);
    expect(client.stats().nodes.filter((n) => n.node === fleet.shards[1]!.master)).toEqual([]);
    expect(client.stats().nodes.length).toBe(3);
    expect(await named(0, "shrinking")).toBeGreaterThan(0);
    expect(await client.mget(keys)).toEqual(keys);
    // A run past doneAt + S retires what is left on the old owners still connected.
    clock.now = AT.done + 10_000;
    expect(await client.migration()!.copyAll({ rate: 100_000 })).toMatchObject({ mode: "retire", complete: true, failed: 0 });
    await client.quit();
    expect(await named(0, "shrinking")).toBe(0);
  });

  it("writes of moving keys sent in switch, whose old owner (the removed shard) is released before their invalidation: each answered with its own reply", async () => {
    await fleet.flushAll();
    const clock = { now: T0 - 60_000 };
    const sharding = { strategy: "ketama" } as const;
    const client = fleet.client({ shards: fleet.shards, sharding, ...PATIENT, [MIGRATION_CLOCK]: () => clock.now } as ShardedClientOptions);
    await client.ready();
    // A shrink at run time: s3 (the end of the list) leaves.
    await client.reconfigure({ shards: fleet.shards.slice(0, 3), migration: { startAt: T0, phaseMs: P } });
    const where = owners("ketama");
    // Keys s3 owned: they move to s0..s2 (where.next: with 4 shards; where.old: with 3).
    const keys = Array.from({ length: 400 }, (_, i) => `late:${i}`).filter((k) => where.next(k) === 3);
    const deleted = keys.slice(0, 10);
    clock.now = AT.switch;
    // Written in switch (on the new owner, s3 invalidated) while s3 is still connected.
    await Promise.all(keys.map((k) => client.set(k, "before")));
    // Sent now, in switch: each writes the new owner, then (after its reply) invalidates s3.
    const writes = keys.slice(10).map((k) => client.set(k, "after"));
    const deletes = client.del(...deleted);
    // The client sees done at its next command: s3 is released right after, before any reply above arrived.
    clock.now = AT.done;
    const read = client.get("elsewhere");
    expect(await Promise.all(writes)).toEqual(writes.map(() => "OK"));
    expect(await deletes).toBe(deleted.length);
    await read;
    expect(client.topology().shards.map((s) => s.name)).toEqual(["s0", "s1", "s2"]);
    expect(await client.mget(keys)).toEqual(keys.map((k) => (deleted.includes(k) ? null : "after")));
    for (const k of keys.slice(10)) expect(await fleet.raw(where.old(k)).get(k), k).toBe("after");
  });

  it("a reconfigure() that drops the last shard (a plain switch) closes its connections at once", async () => {
    await fleet.flushAll();
    const client = fleet.client({ shards: fleet.shards, ...PATIENT, redis: { connectionName: "dropping" } });
    await client.ready();
    await eventually(async () => expect(await named(3, "dropping")).toBe(1));
    await client.reconfigure({ shards: fleet.shards.slice(0, 3) });
    await eventually(async () => expect(await named(3, "dropping")).toBe(0));
    expect(client.topology().shards.map((s) => s.name)).toEqual(["s0", "s1", "s2"]);
    await client.set("after", "1");
    expect(await client.get("after")).toBe("1");
    // Added back later, under another name on the same server: a shard like any other, at an index of its own (the
    // released s3 keeps its place and its counters), counted under its own name.
    await client.reconfigure({ shards: [...fleet.shards.slice(0, 3), { name: "s3b", master: fleet.shards[3]!.master }] });
    await eventually(async () => expect(await named(3, "dropping")).toBe(1));
    const onNew = Array.from({ length: 400 }, (_, i) => `back:${i}`).find((k) => client.shardOf(k) === "s3b")!;
    await client.set(onNew, "1");
    expect(client.stats().shards.map((s) => s.name)).toEqual(["s0", "s1", "s2", "s3", "s3b"]);
    expect(client.topology().shards.map((s) => s.name)).toEqual(["s0", "s1", "s2", "s3b"]);
    await eventually(async () => expect(client.stats().shards[4]!.commands.ok).toBe(1));
  });
});

describe("pub/sub across a migration", () => {
  /** A channel (or sharded channel) whose owner changes, and its old and new owner. */
  function movingChannel(prefix: string) {
    const where = owners("slots");
    const channel = Array.from({ length: 400 }, (_, i) => `${prefix}:${i}`).find((c) => where.old(c) !== where.next(c))!;
    return { channel, old: where.old(channel), next: where.next(channel) };
  }
  const numsub = async (i: number, channel: string, sharded = false) =>
    Number(((await fleet.raw(i).call("pubsub", sharded ? "shardnumsub" : "numsub", channel)) as [string, number])[1]);

  it.each([
    ["subscribe", "publish"],
    ["ssubscribe", "spublish"],
  ] as const)("%s: a subscriber hears a publisher in every phase and one phase apart, each message once; at done only the new owner holds it", async (sub, pub) => {
    await fleet.flushAll();
    const sharded = sub === "ssubscribe";
    const { channel, old, next } = movingChannel(`chan-${sub}`);
    const subscriber = migrating("slots", "before");
    const publisher = migrating("slots", "before");
    const heard: string[] = [];
    const listen = subscriber.client[sub].bind(subscriber.client) as unknown as (c: string, o: { handler: (m: string) => void }) => Promise<number>;
    await listen(channel, { handler: (m) => heard.push(m) });
    // A key named like the channel on its new owner: a sharded publish is not a write of it.
    await fleet.raw(next).set(channel, "a key");
    const sent: string[] = [];
    const order: Array<[Phase, Phase]> = [["before", "before"], ["dual", "before"], ["dual", "dual"], ["warm", "dual"], ["warm", "warm"], ["switch", "warm"], ["switch", "switch"], ["done", "switch"], ["done", "done"], ["switch", "done"]];
    for (const [p, s] of order) {
      publisher.at(p);
      subscriber.at(s);
      const message = `${p}/${s}`;
      sent.push(message);
      await (publisher.client[pub].bind(publisher.client) as unknown as (c: string, m: string) => Promise<number>)(channel, message);
      await eventually(async () => expect(heard).toEqual(sent));
    }
    expect(await fleet.raw(next).get(channel)).toBe("a key");
    // Done (the subscriber's clock): the old owner's subscription dropped.
    subscriber.at("done");
    await subscriber.client.get("tick");
    await eventually(async () => expect([await numsub(old, channel, sharded), await numsub(next, channel, sharded)]).toEqual([0, 1]));
    expect(heard).toEqual(sent);
  });

  it("a channel subscribed before reconfigure() starts a migration is heard after the switch", async () => {
    await fleet.flushAll();
    const clock = { now: AT.before - 60_000 };
    const make = () => fleet.client({ shards: fleet.shards.slice(0, 3), sharding: { strategy: "slots" }, ...PATIENT, [MIGRATION_CLOCK]: () => clock.now } as ShardedClientOptions);
    const [subscriber, publisher] = [make(), make()];
    const { channel, next } = movingChannel("chan-rc");
    const heard: string[] = [];
    await subscriber.subscribe(channel, { handler: (m) => heard.push(m) });
    for (const c of [subscriber, publisher]) await c.reconfigure({ shards: fleet.shards, sharding: { strategy: "slots" }, migration: { startAt: T0, phaseMs: P } });
    await eventually(async () => expect(await numsub(next, channel)).toBe(1));
    clock.now = AT.switch;
    await publisher.publish(channel, "after switch");
    await eventually(async () => expect(heard).toEqual(["after switch"]));
  });

  it("a subscribe() still waiting for its reply when reconfigure() starts a migration is subscribed on the new owner once it lands", async () => {
    await fleet.flushAll();
    const { channel, old, next } = movingChannel("chan-late");
    // The subscriber reaches the channel's old owner through a proxy that holds its replies back.
    const proxy = await startFaultProxy(fleet.servers[old]!);
    try {
      const shards = fleet.shards.map((s, i) => (i === old ? { ...s, master: proxy.address } : s));
      const clock = { now: AT.before - 60_000 };
      const sharding = { strategy: "slots" } as const;
      const subscriber = fleet.client({ shards: shards.slice(0, 3), sharding, ...PATIENT, [MIGRATION_CLOCK]: () => clock.now } as ShardedClientOptions);
      await subscriber.ready();
      const heard: string[] = [];
      proxy.set("delay", { delayMs: 300 });
      const subscribed = subscriber.subscribe(channel, { handler: (m) => heard.push(m) });
      await eventually(async () => expect(subscriber.subscriptions()).toEqual([{ kind: "channel", name: channel, state: "subscribing" }]));
      await subscriber.reconfigure({ shards, sharding, migration: { startAt: T0, phaseMs: P } });
      expect(subscriber.subscriptions()[0]!.state).toBe("subscribing");
      proxy.set("pass");
      await subscribed;
      await eventually(async () => expect(await numsub(next, channel)).toBe(1));
      clock.now = AT.switch;
      const publisher = migrating("slots", "switch").client;
      await publisher.publish(channel, "after switch");
      await eventually(async () => expect(heard).toEqual(["after switch"]));
    } finally {
      await proxy.close();
    }
  });

  it("a psubscribe() still waiting for its reply when reconfigure() adds a shard is subscribed on that shard once it lands", async () => {
    await fleet.flushAll();
    // The subscriber reaches s0 through a proxy that holds its replies back: the pattern stays "subscribing".
    const proxy = await startFaultProxy(fleet.servers[0]!);
    try {
      const shards = fleet.shards.map((s, i) => (i === 0 ? { ...s, master: proxy.address } : s));
      const subscriber = fleet.client({ shards: shards.slice(0, 3), ...PATIENT });
      await subscriber.ready();
      const heard: string[] = [];
      proxy.set("delay", { delayMs: 300 });
      const subscribed = subscriber.psubscribe("late-*", { handler: (m) => heard.push(m) });
      await eventually(async () => expect(subscriber.subscriptions()).toEqual([{ kind: "pattern", name: "late-*", state: "subscribing" }]));
      await subscriber.reconfigure({ shards });
      expect(subscriber.subscriptions()[0]!.state).toBe("subscribing");
      proxy.set("pass");
      await subscribed;
      await eventually(async () => expect(Number(await fleet.raw(3).call("pubsub", "numpat"))).toBe(1));
      await fleet.raw(3).publish("late-1", "on s3");
      await eventually(async () => expect(heard).toEqual(["on s3"]));
    } finally {
      await proxy.close();
    }
  });
});

describe("keyless commands during a migration", () => {
  it("go to the shard `keyless` names in every phase; a fleet of one shard grown to two keeps sending them to it", async () => {
    await fleet.flushAll();
    for (const i of [0, 1, 2, 3]) await fleet.raw(i).set(`k${i}`, "v");
    const { client, at } = migrating("slots", "before", { keyless: { shard: "s2" } });
    const keys = (client as unknown as { keys(pattern: string): Promise<string[]> }).keys.bind(client);
    for (const phase of ["before", "dual", "warm", "switch", "done"] as const) {
      at(phase);
      expect([phase, await keys("k*")]).toEqual([phase, ["k2"]]);
    }
    const clock = { now: AT.before };
    const sharding = { strategy: "slots" } as const;
    const one = fleet.client({
      shards: fleet.shards.slice(0, 2),
      sharding,
      ...PATIENT,
      migration: { from: { shards: fleet.shards.slice(0, 1), sharding }, startAt: T0, phaseMs: P },
      [MIGRATION_CLOCK]: () => clock.now,
    } as ShardedClientOptions);
    expect(await (one as unknown as { keys(pattern: string): Promise<string[]> }).keys("k*")).toEqual(["k0"]);
  });
});
