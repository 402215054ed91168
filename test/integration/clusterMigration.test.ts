/**
 * A cluster replica migrated to another master (CLUSTER REPLICATE): the
 * client's node for that address must belong to the new shard (its name in
 * stats, metrics and errors, its reads), not keep the old shard's binding.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySlot, ShardedClient } from "../../lib/index.js";
import { startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";
import { watchUnhandled } from "../support/fleet.js";
import { eventually } from "../support/keys.js";

describe("a cluster replica migrated to another master", () => {
  let cluster: RedisClusterHandle;
  let client: ShardedClient;
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    cluster = await startRedisCluster(3, { replicas: 1 });
  });
  afterAll(async () => {
    await client?.quit();
    unhandled.stop();
    await cluster?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("is served as a node of its new shard: stats (what metrics export) and reads name that shard", async () => {
    client = new ShardedClient({ cluster: { seeds: [cluster.seeds[0]!] }, topologyRefreshMs: 200 });
    await client.ready();
    const [from, to] = cluster.masters;
    const migrating = cluster.replicas[0]!; // replicates masters[0]
    const [fromShard, toShard] = await Promise.all([from!, to!].map(async (m) => (await cluster.nodeId(m)).slice(0, 8)));
    const placed = () => client.stats().nodes.filter((n) => n.node === migrating.address).map((n) => [n.shard, n.role]);
    expect(placed()).toEqual([[fromShard, "replica"]]);

    await migrating.client().cluster("REPLICATE", await cluster.nodeId(to!));
    await eventually(async () => {
      const shard = client.topology().shards.find((s) => s.name === toShard)!;
      expect(shard.replicas.map((r) => r.address)).toContain(migrating.address);
    }, 15_000);
    expect(placed()).toEqual([[toShard, "replica"]]);

    // Reads from the new shard's replicas reach the migrated node, reported under that shard.
    let key = "";
    for (let i = 0; client.shardOf(key) !== toShard; i++) key = `moved:${i}`;
    expect(keySlot(key)).toBeGreaterThan(5460);
    await client.set(key, "v");
    await eventually(async () => expect(await migrating.client({ readOnly: true }).get(key)).toBe("v"), 15_000);
    const replicaReads = client.readFrom("replica");
    await eventually(async () => expect(await replicaReads.get(key)).toBe("v"), 15_000);
  });
});
