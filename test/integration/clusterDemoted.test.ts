/**
 * A cluster master demoted by a failover the client's map has not seen yet:
 * reads meant for the master must not be served by the demoted node (now a
 * replica, its data behind the new master's). Found by the chaos soak: after
 * a CLUSTER FAILOVER, a pipeline's SET (answered MOVED, sent to the new
 * master) was followed by its GET answered by the old master with the value
 * from before the SET, because every cluster connection had said READONLY.
 * And a dedicated connection (withConnection) on a node that no longer
 * serves its key's slot: WATCH answered MOVED reached the caller raw.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySlot, ShardedClient, SlotMovedError } from "../../lib/index.js";
import { migrateSlot, startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";
import { watchUnhandled } from "../support/fleet.js";
import { eventually } from "../support/keys.js";
import type { RedisServer } from "../support/redis.js";

/** Calls of GET a server has run (MOVED refusals are counted apart, as rejected calls). */
async function getsRun(server: RedisServer): Promise<number> {
  return Number(/cmdstat_get:calls=(\d+)/.exec(String(await server.client().info("commandstats")))?.[1] ?? 0);
}

describe("reads for a master the cluster demoted (client map not yet re-read)", () => {
  let cluster: RedisClusterHandle;
  let client: ShardedClient;
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    cluster = await startRedisCluster(3, { replicas: 1 });
  });
  afterAll(async () => {
    await Promise.all([client, ...clients].map((c) => c?.quit()));
    unhandled.stop();
    await cluster?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("go to the new master: a pipeline reads its own write, and the demoted node runs no GET", async () => {
    // The map is re-read on MOVED only, not on a timer, for the length of the test.
    client = new ShardedClient({ cluster: { seeds: [cluster.seeds[0]!] }, topologyRefreshMs: 600_000 });
    await client.ready();
    const master = cluster.masters[0]!;
    let key = "";
    for (let i = 0; keySlot(key) > 5460 || !key; i++) key = `demoted:${i}`;
    await client.set(key, "before");
    const replica = cluster.server(client.topology().shards.find((s) => s.master!.address === master.address)!.replicas[0]!.address)!;
    await replica.client().call("CLUSTER", "FAILOVER");
    await eventually(async () => expect(((await master.client().call("ROLE")) as string[])[0]).toBe("slave"), 10_000);

    const served = await getsRun(master);
    const results = await client.pipeline().set(key, "after").get(key).exec();
    expect(results).toEqual([
      [null, "OK"],
      [null, "after"],
    ]);
    expect(await client.get(key)).toBe("after");
    expect(await getsRun(master)).toBe(served);
  });

  it("on a dedicated connection (which cannot follow a redirect), MOVED is a SlotMovedError naming the new owner; the next one goes there", async () => {
    const c = new ShardedClient({ cluster: { seeds: [cluster.seeds[0]!] }, topologyRefreshMs: 600_000 });
    clients.push(c);
    await c.ready();
    const from = cluster.masters[2]!;
    const to = cluster.masters[1]!;
    let key = "";
    for (let i = 0; keySlot(key) < 10923 || !key; i++) key = `dedicated:${i}`;
    await c.set(key, "1");
    const migration = await migrateSlot(cluster, keySlot(key), from, to);
    await migration.begin();
    await migration.finish();
    // The client's map still gives the slot to `from`: the connection is borrowed there, and WATCH is answered MOVED.
    const error = await c.withConnection(key, (conn) => conn.watch(key)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlotMovedError);
    expect((error as SlotMovedError).owner).toBe(to.address);
    expect((error as SlotMovedError).redirect).toBe("MOVED");
    // The map was re-read: the next borrow is on the slot's new owner.
    await eventually(async () => {
      const result = await c.withConnection(key, async (conn) => {
        await conn.watch(key);
        return conn.multi().incr(key).exec();
      });
      expect(result).toEqual([[null, 2]]);
    });
  });
});
