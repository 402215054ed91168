/**
 * Over a real Redis Cluster (3 masters, a replica each): what the client
 * does with MOVED and ASK where a command cannot simply be handed to another
 * node (a transaction's block while its slot migrates, a write with a write
 * concern on a pooled connection, a dedicated connection), and with a node
 * that leaves the cluster (its connections are closed).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { keySlot, ShardedClient, SlotMovedError, type ShardedClientOptions } from "../../lib/index.js";
import { migrateSlot, redisCli, startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";
import { watchUnhandled } from "../support/fleet.js";
import { eventually, READY_MS } from "../support/keys.js";
import type { RedisServer } from "../support/redis.js";

describe("MOVED and ASK where a command cannot be handed over, and nodes that leave the cluster", () => {
  let cluster: RedisClusterHandle;
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();

  const client = (options: Partial<ShardedClientOptions> = {}) => {
    const c = new ShardedClient({ cluster: { seeds: [cluster.seeds[0]!] }, ...options });
    clients.push(c);
    return c;
  };
  /** A hash tag (`{prefix-i}`) whose slot `owner` serves now. */
  const tagOn = async (owner: RedisServer, prefix: string) => {
    for (let i = 0; ; i++) if ((await cluster.ownerOf(keySlot(`{${prefix}-${i}}`))) === owner.address) return `{${prefix}-${i}}`;
  };
  /** An admin connection to a node of the importing side: ASKING before each read, as the cluster asks of clients. */
  const askingGet = async (server: RedisServer, key: string) => {
    const admin = server.client();
    await admin.call("ASKING");
    return admin.get(key);
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

  it("runs a transaction whose slot is migrating, and whose keys have moved, on the importing node (ASK), whole", async () => {
    const c = client();
    await c.ready();
    const [from, to] = [cluster.masters[0]!, cluster.masters[1]!];
    const tag = await tagOn(from, "txask");
    const [a, b] = [`${tag}a`, `${tag}b`];
    await c.mset({ [a]: "1", [b]: "1" });
    const migration = await migrateSlot(cluster, keySlot(a), from, to);
    await migration.begin();
    await migration.move([a, b]);
    // The source answers ASK to each queued command: the block goes to the importing node, ASKING before MULTI.
    expect(await c.multi().set(a, "2").incr(b).exec()).toEqual([
      [null, "OK"],
      [null, 2],
    ]);
    expect([await askingGet(to, a), await askingGet(to, b)]).toEqual(["2", "2"]);
    await migration.finish();
    expect(await to.client().mget(a, b)).toEqual(["2", "2"]);
  });

  it("does not send a block to the importing node while some of its keys are still on the source", async () => {
    const c = client({ commandTimeoutMs: 400 });
    await c.ready(READY_MS);
    const [from, to] = [cluster.masters[1]!, cluster.masters[2]!];
    const tag = await tagOn(from, "txsplit");
    const [a, b] = [`${tag}a`, `${tag}b`];
    await c.mset({ [a]: "1", [b]: "1" });
    const migration = await migrateSlot(cluster, keySlot(a), from, to);
    await migration.begin();
    await migration.move([a]);
    // `a` is on the target, `b` still on the source: on the target INCR would make a second `b`. Refused whole, by the deadline.
    const refused = await c.multi().set(a, "2").incr(b).exec().catch((error: unknown) => error);
    // EXECABORT, or its deadline while the map was re-read and the block asked again: either way nothing ran.
    expect((refused as Error).message).toMatch(/^EXECABORT|no reply within 400 ms/);
    // Nothing ran anywhere; the migration moves `b` (it would fail with BUSYKEY had a `b` been made on the target).
    await migration.finish();
    expect(await to.client().mget(a, b)).toEqual(["1", "1"]);
  });

  it("sends a write with a write concern again where its slot went (MOVED) or is going (ASK): it had not run", async () => {
    const c = client();
    await c.ready();
    const concern = c.with({ writeConcern: { replicas: 1, timeoutMs: 2000 } });
    const [from, to] = [cluster.masters[2]!, cluster.masters[0]!];
    // MOVED: the slot moved behind the client's back; the pooled connection's write is answered MOVED.
    const moved = `${await tagOn(from, "wcmoved")}k`;
    const done = await migrateSlot(cluster, keySlot(moved), from, to);
    await done.begin();
    await done.finish();
    expect(await concern.set(moved, "w")).toBe("OK");
    expect(await to.client().get(moved)).toBe("w");
    // ASK: the key has moved, the slot is still migrating.
    const asked = `${await tagOn(from, "wcask")}k`;
    await c.set(asked, "before");
    const migrating = await migrateSlot(cluster, keySlot(asked), from, to);
    await migrating.begin();
    await migrating.move([asked]);
    expect(await concern.set(asked, "after")).toBe("OK");
    expect(await askingGet(to, asked)).toBe("after");
    await migrating.finish();
  });

  it("rejects a command on a dedicated connection whose slot moved with SlotMovedError naming the slot and its new owner", async () => {
    const c = client();
    await c.ready();
    const [from, to] = [cluster.masters[0]!, cluster.masters[2]!];
    const key = `${await tagOn(from, "dedicated")}k`;
    await c.set(key, "v");
    const migration = await migrateSlot(cluster, keySlot(key), from, to);
    await migration.begin();
    await migration.finish();
    const error = await c.withConnection(key, (conn) => conn.get(key)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlotMovedError);
    expect(error).toMatchObject({ code: "ERR_SHARDIS_SLOT_MOVED", slot: keySlot(key), owner: to.address, redirect: "MOVED", node: from.address });
    // The MOVED re-read the map: the next connection for the key goes to its new owner.
    await eventually(async () => expect(await c.withConnection(key, (conn) => conn.get(key))).toBe("v"));
  });

  it("after WATCH, the slot's move reaches the caller as SlotMovedError, the GET's and the block's alike, never a raw MOVED (simulation)", async () => {
    const c = client();
    await c.ready();
    const [from, to] = [cluster.masters[1]!, cluster.masters[0]!];
    const key = `${await tagOn(from, "watched")}n`;
    await c.set(key, "1");
    const seen: unknown[] = [];
    const outcome = await c
      .withConnection(key, async (conn) => {
        await conn.watch(key);
        const migration = await migrateSlot(cluster, keySlot(key), from, to);
        await migration.begin();
        await migration.finish();
        // Pinned to the WATCH: MOVED is not followed, and must come back typed.
        seen.push(await conn.get(key).catch((e: unknown) => e));
        return conn.multi().set(key, "2").exec();
      })
      .catch((e: unknown) => e);
    expect(seen[0]).toBeInstanceOf(SlotMovedError);
    expect(outcome).toBeInstanceOf(SlotMovedError);
    expect(outcome).toMatchObject({ slot: keySlot(key), owner: to.address, node: from.address });
    expect(await c.get(key)).toBe("1");
  });

  it("closes every connection to a node removed from the cluster (del-node) and serves every key from the others", async () => {
    const removed = await cluster.addMaster();
    const name = `removed-${process.pid}`;
    // Its only seed is the node that leaves: the map is read from it, over a connection kept for asking it.
    const c = client({ cluster: { seeds: [removed.address] }, topologyRefreshMs: 200, redis: { connectionName: name } });
    await c.ready();
    const admin: Redis = removed.client();
    const named = async () =>
      String(await admin.call("CLIENT", "LIST"))
        .split("\n")
        .filter((line) => line.includes(` name=${name} `));
    // A shard of its own (a master without slots) and the connection that asks it for the map.
    expect((await named()).length).toBeGreaterThanOrEqual(2);
    // del-node: every other node forgets it, and it is reset (it knows only itself, and no slot).
    await redisCli(["--cluster", "del-node", cluster.masters[0]!.address, await cluster.nodeId(removed)]);
    cluster.servers.splice(cluster.servers.indexOf(removed), 1);
    try {
      await eventually(async () => {
        expect(c.topology().shards.map((s) => s.master?.address)).not.toContain(removed.address);
        expect(await named()).toEqual([]);
      }, 10_000);
      const keys = Array.from({ length: 30 }, (_, i) => `removed:${i}`);
      for (const key of keys) expect(await c.set(key, "1")).toBe("OK");
      expect(await c.mget(...keys)).toEqual(keys.map(() => "1"));
    } finally {
      await removed.stop();
    }
  });
});
