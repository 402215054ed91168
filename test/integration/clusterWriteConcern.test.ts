/**
 * A write with a write concern over a Redis Cluster whose slot moved: the
 * write and its WAIT share a pooled connection, so the connection's own
 * MOVED/ASK following does not apply; the write must still reach the slot's
 * owner (it did not run where it was refused) and wait for that owner's
 * replica, not hand the caller a raw MOVED or ASK. Found by the chaos soak
 * (a writeConcern SET right after a reshard answered "MOVED 43 ...").
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySlot, ShardedClient } from "../../lib/index.js";
import { migrateSlot, startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";
import { watchUnhandled } from "../support/fleet.js";

const CONCERN = { writeConcern: { replicas: 1, timeoutMs: 2000 } } as const;

describe("a write with a write concern whose slot moved (cluster)", () => {
  let cluster: RedisClusterHandle;
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();

  const client = async () => {
    const c = new ShardedClient({ cluster: { seeds: [cluster.seeds[0]!] } });
    clients.push(c);
    await c.ready();
    return c;
  };
  const ownerOf = (key: string) => cluster.masters[Math.floor(keySlot(key) / 5461.34)]!;
  const keyOf = (owner: (typeof cluster.masters)[number], prefix: string, not?: string) => {
    for (let i = 0; ; i++) if (ownerOf(`${prefix}:${i}`) === owner && `${prefix}:${i}` !== not) return `${prefix}:${i}`;
  };

  beforeAll(async () => {
    cluster = await startRedisCluster(3, { replicas: 1 });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    unhandled.stop();
    await cluster?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("MOVED: runs on the slot's new owner and waits for its replica", async () => {
    const c = await client();
    const [from, to] = [cluster.masters[0]!, cluster.masters[1]!];
    const key = keyOf(from, "wcmoved");
    const migration = await migrateSlot(cluster, keySlot(key), from, to);
    await migration.begin();
    await migration.finish();
    // The client's map still gives the slot to `from`, which answers MOVED.
    expect(await c.with(CONCERN).set(key, "after")).toBe("OK");
    expect(await to.client().get(key)).toBe("after");
  });

  it("ASK: runs on the importing node (ASKING first) during a migration, and waits for its replica", async () => {
    const c = await client();
    const [from, to] = [cluster.masters[2]!, cluster.masters[0]!];
    const key = keyOf(from, "wcask");
    await c.set(key, "before");
    const migration = await migrateSlot(cluster, keySlot(key), from, to);
    await migration.begin();
    await migration.move([key]);
    // The key is on the target now: the source answers ASK; the map still gives the slot to the source.
    expect(await c.with(CONCERN).set(key, "during")).toBe("OK");
    await migration.finish();
    expect(await to.client().get(key)).toBe("during");
    expect(await c.get(key)).toBe("during");
  });
});
