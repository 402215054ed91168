/**
 * Classic pub/sub over a real Redis Cluster, where PUBLISH reaches every
 * node: a pattern is listened to on one node (on each, every message would
 * arrive once per node), and subscribing right after the client is made,
 * before the slot map is read, waits for the map instead of failing.
 * Both were found by the deterministic simulation (test/sim).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardedClient } from "../../lib/index.js";
import { startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";
import { watchUnhandled } from "../support/fleet.js";
import { eventually } from "../support/keys.js";

describe("classic pub/sub over a Redis Cluster", () => {
  let cluster: RedisClusterHandle;
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    unhandled.stop();
    await cluster?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  /** How many patterns each master holds (PUBSUB NUMPAT counts every client's). */
  const patternsPerMaster = () => Promise.all(cluster.masters.map(async (m) => Number(await m.client().call("PUBSUB", "NUMPAT"))));

  it("subscribes before the slot map is known (it waits for the map), and a pattern on one node only: each message once", async () => {
    const client = new ShardedClient({ cluster: { seeds: [cluster.seeds[0]!] } });
    clients.push(client);
    const got: string[] = [];
    // Right away: no ready(), the map is still being read.
    await client.subscribe("news", { handler: (message) => got.push(`news ${message}`) });
    await client.psubscribe("evt:*", { handler: (message, channel) => got.push(`${channel} ${message}`) });
    expect((await patternsPerMaster()).reduce((a, b) => a + b, 0)).toBe(1);
    for (let i = 0; i < 5; i++) await client.publish(`evt:${i}`, `m${i}`);
    await client.publish("news", "hello");
    await eventually(async () => expect(got).toContain("news hello"));
    // Messages of one node's connection arrive in order: every earlier one is in (none twice).
    await eventually(async () => expect(got.filter((g) => g.startsWith("evt:")).sort()).toEqual(["evt:0 m0", "evt:1 m1", "evt:2 m2", "evt:3 m3", "evt:4 m4"]));
    // A last message through the pattern: earlier duplicates from other nodes would have arrived by now on their own connections.
    await client.publish("evt:last", "end");
    await eventually(async () => expect(got).toContain("evt:last end"));
    expect(got.filter((g) => g === "evt:0 m0")).toHaveLength(1);
  });
});
