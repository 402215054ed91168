/**
 * The routing plan of a migration, pure: for each phase, which owner a
 * moving key's reads and writes use and what each costs, on a host that
 * records what it would send (no servers). Keys that keep their owner are
 * left to the executor: one command, as without a migration.
 */
import { describe, expect, it } from "vitest";
import { resolveOptions } from "../../lib/config/resolve.js";
import type { CallOptions } from "../../lib/config/callOptions.js";
import { buildCommand, type ShardisCommand } from "../../lib/commands/command.js";
import type { Script } from "../../lib/commands/script.js";
import { MigrationRefusedError, MigrationWriteError } from "../../lib/errors/migration.js";
import { Migrator, type MigrationHost } from "../../lib/migration/Migrator.js";
import { moveRoute } from "../../lib/migration/route.js";
import type { Placement } from "../../lib/migration/placement.js";
import { commandSpec, type CommandSpec } from "../../lib/routing/commandSpec.js";

const T0 = Date.parse("2026-12-10T10:00:00Z");
const P = 60_000;
const AT = { before: T0 - 1, dual: T0, warm: T0 + P, switch: T0 + 2 * P - 1, done: T0 + 2 * P };
const CALL: CallOptions = { timeoutMs: 1000, partial: false, idempotent: false, readFrom: "master", writeConcern: undefined };
const shards = Array.from({ length: 4 }, (_, i) => ({ name: `s${i}`, master: `127.0.0.1:${7000 + i}` }));

type Sent = { shard: number; what: string };

/** A host that answers as a fleet where `present` keys exist on the shards listed, and records every command. */
function fakeHost(present: Map<string, number[]>) {
  const sent: Sent[] = [];
  let inForce: Placement | undefined;
  const has = (key: unknown, shard: number) => present.get(String(key))?.includes(shard) ?? false;
  const host: MigrationHost = {
    runOn: async (shard: number, spec: CommandSpec, cmd: ShardisCommand) => {
      sent.push({ shard, what: spec.name });
      if (spec.name === "get") return has(cmd.args[0], shard) ? "v" : null;
      if (spec.name === "mget") return cmd.args.map((k) => (has(k, shard) ? "v" : null));
      return "OK";
    },
    runScript: async (script: Script, args: unknown[], _encoding, _call, shard: number) => {
      const name = script.name.replace("shardis:migration:", "");
      sent.push({ shard, what: name });
      if (name === "observe") return [has(args[0], shard) ? 1 : 0, Buffer.from(""), 1000];
      if (name === "dump") return has(args[0], shard) ? [Buffer.from("payload"), 5000] : [null, -2];
      return 1;
    },
    shardName: (i) => `s${i}`,
    use: (placement) => void (inForce = placement),
    phaseChanged: () => undefined,
  };
  return { host, sent, inForce: () => inForce };
}

function migrator(present = new Map<string, number[]>()) {
  const options = resolveOptions({ shards, migration: { from: { shards: shards.slice(0, 3) }, startAt: T0, phaseMs: P } });
  const clock = { now: AT.before };
  const fake = fakeHost(present);
  const m = new Migrator(options.migration!, options.shards, options.commandTimeoutMs, fake.host, () => clock.now);
  return { m, ...fake, at: (phase: keyof typeof AT) => void (clock.now = AT[phase]) };
}

function run(m: Migrator, name: string, args: string[]) {
  return m.dispatch(commandSpec(name), buildCommand(name, args, "utf8"), "utf8", CALL);
}

/** A key moving from old shard `from` to new shard `to`, and one that stays. */
function keys(m: Migrator) {
  const { from, to } = m.placements;
  const all = Array.from({ length: 500 }, (_, i) => `k${i}`);
  const moving = all.find((k) => from.strategy.shardIndexOf(k) !== to.strategy.shardIndexOf(k))!;
  const staying = all.find((k) => from.strategy.shardIndexOf(k) === to.strategy.shardIndexOf(k))!;
  return { moving, staying, oldOwner: from.strategy.shardIndexOf(moving), newOwner: to.strategy.shardIndexOf(moving) };
}

describe("a migration's routing plan", () => {
  it("routes keys that keep their owner as without a migration, in every phase (nothing extra)", async () => {
    const { m, sent, at, inForce } = migrator();
    const { staying } = keys(m);
    for (const phase of ["before", "dual", "warm", "switch", "done"] as const) {
      at(phase);
      expect(run(m, "get", [staying])).toBeUndefined();
      expect(run(m, "set", [staying, "v"])).toBeUndefined();
      m.phase();
      expect(inForce()).toBe(phase === "switch" || phase === "done" ? m.placements.to : m.placements.from);
    }
    expect(sent).toEqual([]);
  });

  it("dual: reads the old owner (one command); a write goes to the old owner, then invalidates the new one (two)", async () => {
    const { m, sent, at } = migrator(new Map());
    const { moving, oldOwner, newOwner } = keys(m);
    at("dual");
    await run(m, "get", [moving]);
    expect(sent.splice(0)).toEqual([{ shard: oldOwner, what: "get" }]);
    await run(m, "del", [moving]);
    expect(sent.splice(0)).toEqual([{ shard: oldOwner, what: "del" }, { shard: newOwner, what: "invalidate" }]);
    expect(m.status().invalidations).toBe(1);
  });

  it("warm: a GET hit on the new owner is one command; a miss looks, reads the old owner and copies (five)", async () => {
    const present = new Map<string, number[]>();
    const { m, sent, at } = migrator(present);
    const { moving, oldOwner, newOwner } = keys(m);
    at("warm");
    present.set(moving, [oldOwner]);
    expect(await run(m, "get", [moving])).toBe("v");
    await Promise.resolve();
    expect(sent.splice(0)).toEqual([
      { shard: newOwner, what: "get" },
      { shard: newOwner, what: "observe" },
      { shard: oldOwner, what: "get" },
      { shard: oldOwner, what: "dump" },
      { shard: newOwner, what: "copy" },
    ]);
    present.set(moving, [oldOwner, newOwner]);
    expect(await run(m, "get", [moving])).toBe("v");
    expect(sent.splice(0)).toEqual([{ shard: newOwner, what: "get" }]);
    // A read whose reply says nothing of the key's presence (EXISTS) looks too, in the same round trip.
    await run(m, "exists", [moving]);
    expect(sent.splice(0)).toEqual([{ shard: newOwner, what: "exists" }, { shard: newOwner, what: "observe" }]);
    expect(m.status()).toMatchObject({ phase: "warm", fallbackReads: 1, copies: 1 });
    // Writes still go to the old owner first; then, while copies run, the value follows to the new owner (a look first: this
    // fake's new owner still reports the key, so nothing is dumped or copied; migration.test.ts copies on real servers).
    await run(m, "set", [moving, "w"]);
    expect(sent.splice(0)).toEqual([{ shard: oldOwner, what: "set" }, { shard: newOwner, what: "invalidate" }, { shard: newOwner, what: "observe" }]);
  });

  it("warm: a write whose copy to the new owner fails (the look's connection lost) answers its own reply; the failure is counted", async () => {
    const { m, sent, at, host } = migrator();
    const { moving, oldOwner, newOwner } = keys(m);
    const { runScript } = host;
    host.runScript = async (script, args, encoding, call, shard) => {
      if (script.name.endsWith("observe")) throw new Error("connection lost");
      return runScript(script, args, encoding, call, shard);
    };
    at("warm");
    await expect(run(m, "set", [moving, "w"])).resolves.toBe("OK");
    expect(sent.splice(0)).toEqual([{ shard: oldOwner, what: "set" }, { shard: newOwner, what: "invalidate" }]);
    expect(m.status()).toMatchObject({ writeCopies: 0, writeCopyFailures: 1, invalidations: 1 });
  });

  it("switch: reads the new owner only; writes go there first, then invalidate the old owner", async () => {
    const { m, sent, at } = migrator();
    const { moving, oldOwner, newOwner } = keys(m);
    at("switch");
    await run(m, "get", [moving]);
    await run(m, "incr", [moving]);
    expect(sent).toEqual([{ shard: newOwner, what: "get" }, { shard: newOwner, what: "incr" }, { shard: oldOwner, what: "invalidate" }]);
  });

  it("a switch write's invalidation of the old owner lapses once the client is done: not sent then, its failure then not the caller's; other failures are MigrationWriteError", async () => {
    /** A migrator in `phase` whose invalidations fail (as one sent to a shard released at done); `first` runs before each, `answered` as the write's reply arrives. */
    const failing = (phase: "warm" | "switch", first: (done: () => void) => void, answered: (done: () => void) => void = () => undefined) => {
      const made = migrator();
      const { runOn, runScript } = made.host;
      const done = () => made.at("done");
      made.host.runOn = async (shard, spec, cmd, call) => (answered(done), runOn(shard, spec, cmd, call));
      made.host.runScript = async (script, args, encoding, call, shard) => {
        if (!script.name.endsWith("invalidate")) return runScript(script, args, encoding, call, shard);
        first(done);
        made.sent.push({ shard, what: "invalidate" });
        throw new Error("released");
      };
      made.at(phase);
      return { ...made, ...keys(made.m) };
    };
    const still = failing("switch", () => undefined);
    await expect(run(still.m, "set", [still.moving, "w"])).rejects.toBeInstanceOf(MigrationWriteError);
    // Sent in switch, failed once the client is done: the write's own reply.
    const late = failing("switch", (done) => done());
    await expect(run(late.m, "set", [late.moving, "w"])).resolves.toBe("OK");
    // The write answered once the client is done: no invalidation sent.
    const after = failing("switch", () => undefined, (done) => done());
    await expect(run(after.m, "set", [after.moving, "w"])).resolves.toBe("OK");
    expect(after.sent).toEqual([{ shard: after.newOwner, what: "set" }]);
    // A write of warm invalidates the new owner, which counts from switch on: its failure is the caller's, even at done.
    const warm = failing("warm", (done) => done());
    await expect(run(warm.m, "set", [warm.moving, "w"])).rejects.toMatchObject({ code: "ERR_SHARDIS_MIGRATION_WRITE", applied: `s${warm.oldOwner}`, pending: `s${warm.newOwner}` });
  });

  it("splits MGET and MSET key by key for moving keys, keys that stay grouped by shard; replies in caller order", async () => {
    const present = new Map<string, number[]>();
    const { m, sent, at } = migrator(present);
    const { moving, staying, oldOwner } = keys(m);
    present.set(staying, [m.placements.from.strategy.shardIndexOf(staying)]);
    present.set(moving, [oldOwner]);
    at("dual");
    expect(await run(m, "mget", [moving, staying, "absent"])).toEqual(["v", "v", null]);
    expect(sent.filter((s) => s.what === "mget")).toHaveLength(m.placements.from.strategy.shardIndexOf("absent") === m.placements.from.strategy.shardIndexOf(staying) ? 2 : 3);
    sent.length = 0;
    await run(m, "mset", [moving, "1", staying, "2"]);
    expect(sent.filter((s) => s.what === "invalidate")).toHaveLength(1);
    expect(run(m, "mget", [staying])).toBeUndefined();
  });

  it("refuses a blocking command on a moving key; moveRoute leaves keys that stay alone", () => {
    const { m, at } = migrator();
    const { moving, staying } = keys(m);
    at("warm");
    expect(() => moveRoute(m.placements, "warm", commandSpec("blpop"), [moving, "0"])).toThrow(MigrationRefusedError);
    expect(moveRoute(m.placements, "warm", commandSpec("get"), [staying])).toBeUndefined();
    expect(() => m.refuseMoving("multi", [moving], "why")).toThrow(MigrationRefusedError);
    expect(() => m.refuseMoving("multi", [staying], "why")).not.toThrow();
    at("done");
    expect(() => m.refuseMoving("multi", [moving], "why")).not.toThrow();
  });

  it("a keyed scan (SSCAN/HSCAN/ZSCAN) of a moving key reads one owner per side: the old one in dual and warm, the new one in switch", () => {
    const { m } = migrator();
    const { moving } = keys(m);
    const [from, to] = [m.placements.from.strategy.shardIndexOf(moving), m.placements.to.strategy.shardIndexOf(moving)];
    for (const name of ["sscan", "hscan", "zscan"]) {
      expect(moveRoute(m.placements, "warm", commandSpec(name), [moving, "0"])).toEqual({ kind: "read", route: from });
      expect(moveRoute(m.placements, "switch", commandSpec(name), [moving, "0"])).toEqual({ kind: "read", route: to });
    }
    expect(moveRoute(m.placements, "warm", commandSpec("hgetall"), [moving])).toMatchObject({ kind: "warm" });
  });
});
