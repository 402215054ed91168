/**
 * Shards a fleet change removes, on real servers (docs/scaling.md): a client
 * that sends no commands goes through a migration's phases on time (its
 * events, the removed shard released at `done`) by the clock alone.
 */
import { describe, expect, it } from "vitest";
import { type ShardedClient } from "../../lib/index.js";
import { fleetForFile } from "../support/fleet.js";
import { eventually } from "../support/keys.js";

const files = fleetForFile(4);
const fleet = new Proxy({} as typeof files.fleet, { get: (_, name) => Reflect.get(files.fleet, name) });

/** Connections named `name` on server i (CLIENT LIST, seen by the raw client). */
const named = async (i: number, name: string) => ((await fleet.raw(i).client("LIST")) as string).split("\n").filter((l) => l.includes(` name=${name} `)).length;
const names = (client: ShardedClient) => client.topology().shards.map((s) => s.name);

describe("a client that sends no commands during a migration", () => {
  it("emits each phase's event at its boundary and releases the shard a shrink removed at done, by the clock alone", async () => {
    await fleet.flushAll();
    const sharding = { strategy: "ketama" } as const;
    const phases: string[] = [];
    // Real time, short phases: phaseMs >= 2 (clockSkewMs + commandTimeoutMs + copyWindowMs).
    const client = fleet.client({
      shards: [fleet.shards[0]!, fleet.shards[2]!, fleet.shards[3]!],
      sharding,
      commandTimeoutMs: 500,
      redis: { connectionName: "idle" },
      migration: { from: { shards: fleet.shards, sharding }, startAt: Date.now() + 500, phaseMs: 1100, clockSkewMs: 0, copyWindowMs: 50 },
    });
    client.on("migration:phase", ({ phase, previous }) => phases.push(`${previous}->${phase}`));
    await client.ready(5000);
    await eventually(async () => expect(await named(1, "idle")).toBeGreaterThanOrEqual(1));
    await eventually(async () => expect(phases).toEqual(["before->dual", "dual->warm", "warm->switch", "switch->done"]), 10_000);
    await eventually(async () => expect(await named(1, "idle")).toBe(0));
    expect(names(client)).toEqual(["s0", "s2", "s3"]);
    await client.quit();
    expect(await named(0, "idle")).toBe(0);
  });
});
