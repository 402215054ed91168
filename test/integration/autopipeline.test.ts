import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ShardedClient } from "../../lib/index.js";
import { startFleet, type Fleet } from "../support/fleet.js";

/** The server's count of socket reads; a batch that arrived in one write costs one read. */
async function readsOf(fleet: Fleet, shard: number): Promise<number> {
  const info = await fleet.raw(shard).info("stats");
  return Number(/total_reads_processed:(\d+)/.exec(info)![1]);
}

describe("auto-pipelining", () => {
  let fleet: Fleet;
  let client: ShardedClient;
  const keys: string[][] = [[], [], []];

  beforeAll(async () => {
    fleet = await startFleet(3);
    client = fleet.client();
    for (let i = 0; keys.some((k) => k.length < 100); i++) {
      const shard = Number(client.shardOf(`k${i}`).slice(1));
      if (keys[shard]!.length < 100) keys[shard]!.push(`k${i}`);
    }
    await client.mset(Object.fromEntries(keys.flat().map((k) => [k, "v"])));
  });
  afterAll(async () => fleet?.stop());

  it("sends the commands of one event-loop turn to a node in one write", async () => {
    const before = await Promise.all([0, 1, 2].map((i) => readsOf(fleet, i)));
    // Issued synchronously and from promise callbacks within the same turn.
    const first = keys[0]!.slice(0, 50).map((k) => client.get(k));
    const more = Promise.resolve().then(() => keys.flatMap((ks) => ks.slice(50)).map((k) => client.get(k)));
    const values = await Promise.all([...first, ...(await more)]);
    expect(values.every((v) => v === "v")).toBe(true);
    const after = await Promise.all([0, 1, 2].map((i) => readsOf(fleet, i)));
    // One read for the batch, one for the INFO call that measured it.
    expect(after.map((n, i) => n - before[i]!)).toEqual([2, 2, 2]);
  });

  it("sends commands of separate turns in separate writes", async () => {
    const before = await readsOf(fleet, 1);
    for (const key of keys[1]!.slice(0, 20)) expect(await client.get(key)).toBe("v");
    const after = await readsOf(fleet, 1);
    expect(after - before).toBeGreaterThanOrEqual(21);
  });

  it("keeps replies in order within a batch of mixed commands", async () => {
    const key = keys[2]![0]!;
    const results = await Promise.all([
      client.set(key, "1"),
      client.incr(key),
      client.get(key),
      client.append(key, "x"),
      client.get(key),
      client.del(key),
      client.get(key),
    ]);
    expect(results).toEqual(["OK", 2, "2", 2, "2x", 1, null]);
  });
});
