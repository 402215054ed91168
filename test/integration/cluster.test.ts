/**
 * The client over a real Redis Cluster (3 masters, a replica each):
 * discovery, routing by the cluster's slot map, MOVED, ASK during a real
 * migration, TRYAGAIN on multi-key commands split by it, replica reads and write concern,
 * pub/sub (sharded too), transactions, scans, and what bad input gets.
 */
import { createServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterError, ConfigError, CrossShardError, keySlot, ShardedClient, SlotMovedError } from "../../lib/index.js";
import { migrateSlot, startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";
import { watchUnhandled } from "../support/fleet.js";
import { eventually } from "../support/keys.js";
import { startRedis, type RedisServer } from "../support/redis.js";

/** The first key `${prefix}:${i}` whose slot is `slot`'s owner's, and not `avoid`. */
function keyInSlotOf(owner: (key: string) => boolean, prefix: string): string {
  for (let i = 0; ; i++) if (owner(`${prefix}:${i}`)) return `${prefix}:${i}`;
}

describe("the client over a Redis Cluster", () => {
  let cluster: RedisClusterHandle;
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();

  const client = (options: Record<string, unknown> = {}) => {
    const c = new ShardedClient({ cluster: { seeds: [cluster.seeds[0]!] }, ...options });
    clients.push(c);
    return c;
  };
  const ownerOf = (key: string) => cluster.masters[Math.floor(keySlot(key) / 5461.34)]!;

  beforeAll(async () => {
    cluster = await startRedisCluster(3, { replicas: 1 });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    unhandled.stop();
    await cluster?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("finds the masters and their replicas, names shards after the masters' node ids, and routes by the slot map", async () => {
    const c = client();
    await c.ready();
    const view = c.topology();
    const ids = await Promise.all(cluster.masters.map((m) => cluster.nodeId(m)));
    // Shard order is discovery order; each shard is named after its master's node id.
    const byAddress = new Map(cluster.masters.map((m, i) => [m.address, ids[i]!.slice(0, 8)]));
    expect(view.shards.map((s) => s.name).sort()).toEqual([...byAddress.values()].sort());
    for (const shard of view.shards) expect(shard.name).toBe(byAddress.get(shard.master!.address));
    expect(view.shards.every((s) => s.replicas.length === 1)).toBe(true);
    expect(view.shards.map((s) => s.slots).sort()).toEqual([5461, 5461, 5462]);
    expect(view.shards.reduce((n, s) => n + s.slots!, 0)).toBe(16384);
    for (let i = 0; i < 60; i++) expect(await c.set(`route:${i}`, String(i))).toBe("OK");
    for (let i = 0; i < 60; i++) expect(await ownerOf(`route:${i}`).client().get(`route:${i}`)).toBe(String(i));
    expect(c.shardOf("route:1")).toBe(ids[cluster.masters.indexOf(ownerOf("route:1"))]!.slice(0, 8));
    // Split commands go one slot per command (a cluster refuses CROSSSLOT even on one node).
    const keys = Array.from({ length: 30 }, (_, i) => `route:${i}`);
    expect(await c.mget(...keys)).toEqual(keys.map((_, i) => String(i)));
    expect(await c.del(...keys)).toBe(30);
  });

  it("follows MOVED after a slot changes owner, and re-reads the map", async () => {
    const c = client();
    await c.ready();
    const from = cluster.masters[0]!;
    const to = cluster.masters[1]!;
    const key = keyInSlotOf((k) => ownerOf(k) === from, "moved");
    await c.set(key, "before");
    const topology: string[] = [];
    c.on("topology", (e) => topology.push(e.reason));
    const migration = await migrateSlot(cluster, keySlot(key), from, to);
    await migration.begin();
    await migration.finish();
    // The client's map still says `from`: the reply is MOVED, followed at once.
    expect(await c.get(key)).toBe("before");
    expect(await c.set(key, "after")).toBe("OK");
    expect(await to.client().get(key)).toBe("after");
    const toShard = c.topology().shards.find((s) => s.master!.address === to.address)!.name;
    await eventually(async () => expect(c.explain("get", key).parts[0]!.shard).toBe(toShard));
    expect(topology).toContain("MOVED");
    expect(c.stats().shards.reduce((n, s) => n + s.redirects.moved, 0)).toBeGreaterThan(0);
  });

  it("serves client.cache() on a cluster: a getOrSet sent before the slot map is known, and a hit whose slot moved (MOVED)", async () => {
    // Not awaited ready: the first read waits for the slot map, then goes out.
    const c = client();
    const users = c.cache<string>({ namespace: "clucache", ttlMs: 60_000 });
    let loads = 0;
    expect(await users.getOrSet("{hit}", async () => (loads++, "loaded"))).toBe("loaded");
    expect(await users.getOrSet("{hit}", async () => (loads++, "again"))).toBe("loaded");
    const from = ownerOf("clucache:{hit}");
    const to = cluster.masters.find((m) => m !== from)!;
    const migration = await migrateSlot(cluster, keySlot("clucache:{hit}"), from, to);
    await migration.begin();
    await migration.finish();
    // The client's map still says `from`: MOVED, followed, and still a hit.
    expect(await users.getOrSet("{hit}", async () => (loads++, "after move"))).toBe("loaded");
    expect(loads).toBe(1);
    expect(c.stats().caches.find((s) => s.namespace === "clucache")!.requests).toMatchObject({ hit: 2, miss: 1 });
  });

  it("follows ASK to the importing node for that command only, during a real migration", async () => {
    const c = client();
    await c.ready();
    const from = cluster.masters[2]!;
    const to = cluster.masters[0]!;
    const moved = keyInSlotOf((k) => ownerOf(k) === from, "ask");
    const slot = keySlot(moved);
    // One more key of the slot, left on the source.
    const sibling = keyInSlotOf((k) => keySlot(k) === slot && k !== moved, "asksib");
    await c.mset({ [moved]: "m", [sibling]: "s" });
    const migration = await migrateSlot(cluster, slot, from, to);
    await migration.begin();
    await migration.move([moved]);
    // `moved` is now on the target: the source answers ASK; `sibling` is still on the source.
    expect(await c.get(moved)).toBe("m");
    expect(await c.get(sibling)).toBe("s");
    expect(c.stats().shards.reduce((n, s) => n + s.redirects.ask, 0)).toBeGreaterThan(0);
    // Only that command was redirected: the map still gives the slot to the source.
    expect(c.explain("get", sibling).parts[0]!.shard).toBe(c.topology().shards.find((s) => s.master!.address === from.address)!.name);
    await migration.finish();
    expect(await c.get(sibling)).toBe("s");
  });

  it("retries a multi-key command answered TRYAGAIN (its keys split by a migration) until the migration ends", async () => {
    const c = client({ commandTimeoutMs: 5000 });
    await c.ready();
    const from = cluster.masters[1]!;
    const to = cluster.masters[2]!;
    let tag = 0;
    while (ownerOf(`{t${tag}}`) !== from) tag++;
    const [a, b] = [`{t${tag}}a`, `{t${tag}}b`];
    expect(keySlot(a)).toBe(keySlot(b));
    await c.mset({ [a]: "1", [b]: "2" });
    const migration = await migrateSlot(cluster, keySlot(a), from, to);
    await migration.begin();
    await migration.move([a]);
    const read = c.mget(a, b); // a on the target, b on the source: TRYAGAIN until b moves too
    const retries = () => c.stats().shards.reduce((n, s) => n + s.retries, 0);
    // The migration ends only once the read has been answered TRYAGAIN at least once.
    const done = eventually(async () => expect(retries()).toBeGreaterThan(0), 10_000).then(() => migration.finish());
    expect(await read).toEqual(["1", "2"]);
    await done;
    // It was answered TRYAGAIN and retried (counted as retries), not routed around the migration.
    expect(retries()).toBeGreaterThan(0);
  });

  it("re-sends only a pipeline's redirected entries, and keeps the caller's order", async () => {
    const c = client();
    await c.ready();
    const from = cluster.masters[0]!;
    const to = cluster.masters[2]!;
    let tag = 0;
    while (ownerOf(`{pm${tag}}`) !== from) tag++;
    const moving = [`{pm${tag}}a`, `{pm${tag}}b`, `{pm${tag}}c`];
    const staying = keyInSlotOf((k) => ownerOf(k) === to, "pstay");
    await c.mset({ [moving[0]!]: "a", [moving[1]!]: "b", [moving[2]!]: "c", [staying]: "s" });
    const migration = await migrateSlot(cluster, keySlot(moving[0]!), from, to);
    await migration.begin();
    await migration.move(moving);
    await migration.finish();
    const moved = () => c.stats().shards.reduce((n, s) => n + s.redirects.moved, 0);
    const before = moved();
    const results = await c.pipeline().get(moving[0]!).get(staying).set(moving[1]!, "B").get(moving[1]!).incr(staying).get(moving[2]!).exec();
    expect(results).toEqual([[null, "a"], [null, "s"], [null, "OK"], [null, "B"], [expect.objectContaining({ message: expect.stringContaining("not an integer") })], [null, "c"]]);
    // The four entries for the moved slot were answered MOVED and re-sent; the others were not.
    expect(moved() - before).toBe(4);
    expect(await to.client().get(moving[1]!)).toBe("B");
  });

  it("runs a transaction whose slot moved again on the new owner, whole; never re-sends its commands alone", async () => {
    const c = client();
    await c.ready();
    const from = cluster.masters[1]!;
    const to = cluster.masters[0]!;
    let tag = 0;
    while (ownerOf(`{tm${tag}}`) !== from) tag++;
    const [a, b] = [`{tm${tag}}a`, `{tm${tag}}b`];
    await c.mset({ [a]: "1", [b]: "1" });
    const fromShard = c.topology().shards.find((s) => s.master!.address === from.address)!.name;
    const migration = await migrateSlot(cluster, keySlot(a), from, to);
    await migration.begin();
    await migration.move([a, b]);
    await migration.finish();
    // Pinned to the old owner (a named shard), the block cannot move: refused whole (SlotMovedError naming where the
    // slot went; the server's EXECABORT and its MOVED refusals as its cause), and nothing in it ran anywhere.
    const pinned = await c.shard(fromShard).multi().set(a, "pinned").incr(b).exec().catch((e: unknown) => e);
    expect(pinned).toBeInstanceOf(SlotMovedError);
    expect(pinned).toMatchObject({ slot: keySlot(a), owner: to.address, redirect: "MOVED" });
    const cause = (pinned as Error).cause as Error & { previousErrors: Error[] };
    expect(cause.message).toMatch(/^EXECABORT/);
    expect(cause.previousErrors.map((e) => e.message.split(" ")[0])).toEqual(["MOVED", "MOVED"]);
    expect(await to.client().mget(a, b)).toEqual(["1", "1"]);
    // Through routing it runs on the new owner, whole.
    expect(await c.multi().set(a, "2").incr(b).exec()).toEqual([[null, "OK"], [null, 2]]);
    expect(await to.client().mget(a, b)).toEqual(["2", "2"]);
  });

  it("sends a blocking command refused with MOVED on its pooled connection again, to the slot's new owner", async () => {
    const c = client();
    await c.ready();
    const from = cluster.masters[2]!;
    const to = cluster.masters[1]!;
    const key = keyInSlotOf((k) => ownerOf(k) === from, "blocking");
    const migration = await migrateSlot(cluster, keySlot(key), from, to);
    await migration.begin();
    await migration.finish();
    await to.client().rpush(key, "job");
    // The client's map still gives the slot to `from`: BLPOP goes there on a pooled connection and is answered MOVED.
    expect(c.explain("blpop", key, 1).parts[0]!.shard).toBe(c.topology().shards.find((s) => s.master!.address === from.address)!.name);
    expect(await c.blpop(key, 1)).toEqual([key, "job"]);
    expect(await to.client().llen(key)).toBe(0);
  });

  it("reads from replicas by policy (READONLY on their connections)", async () => {
    const c = client({ readFrom: "replica", healthCheckIntervalMs: 50 });
    await c.ready();
    await eventually(async () => expect(c.topology().shards.every((s) => s.replicas[0]?.readable)).toBe(true));
    const key = keyInSlotOf((k) => ownerOf(k) === cluster.masters[0]!, "replicated");
    await c.set(key, "v");
    await eventually(async () => expect(await c.get(key)).toBe("v"));
    const replica = cluster.server(c.topology().shards.find((s) => s.master!.address === cluster.masters[0]!.address)!.replicas[0]!.address)!;
    const gets = async () => Number(/cmdstat_get:calls=(\d+)/.exec(String(await replica.client().info("commandstats")))?.[1] ?? 0);
    const before = await gets();
    for (let i = 0; i < 10; i++) expect(await c.get(key)).toBe("v");
    expect((await gets()) - before).toBe(10);
    // A write concern waits for the shard's replica (WAIT on the master), as on plain nodes.
    expect(await c.with({ writeConcern: { replicas: 1, timeoutMs: 2000 } }).set(key, "w")).toBe("OK");
    const direct = replica.client();
    await direct.call("READONLY"); // a cluster replica answers reads only on a READONLY connection
    expect(await direct.get(key)).toBe("w");
  });

  it("runs transactions on one slot, refuses one across slots, and pipelines any keys", async () => {
    const c = client();
    await c.ready();
    expect(await c.multi().set("{tx}:a", "1").incr("{tx}:a").exec()).toEqual([
      [null, "OK"],
      [null, 2],
    ]);
    const sameNode = keyInSlotOf((k) => ownerOf(k) === ownerOf("{tx}:a") && keySlot(k) !== keySlot("{tx}:a"), "tx2");
    await expect(c.multi().set("{tx}:a", "1").set(sameNode, "2").exec()).rejects.toBeInstanceOf(CrossShardError);
    await expect(c.msetnx("{tx}:a", "1", sameNode, "2")).rejects.toThrow(/slots .* a cluster runs one command on one slot/);
    const results = await c.pipeline().set("p:1", "a").set("p:2", "b").mget("p:1", "p:2").exec();
    expect(results).toEqual([[null, "OK"], [null, "OK"], [null, ["a", "b"]]]);
  });

  it("delivers pub/sub, sharded pub/sub included, and scans every master", async () => {
    const c = client();
    await c.ready();
    const heard: string[] = [];
    await c.subscribe("news", { handler: (message) => heard.push(message) });
    await c.ssubscribe("snews", { handler: (message: string) => heard.push(`s:${message}`) });
    await c.publish("news", "hello");
    await c.spublish("snews", "there");
    await eventually(async () => expect(heard.sort()).toEqual(["hello", "s:there"]));
    await c.mset(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`scan:${i}`, "1"])));
    const seen = new Set<string>();
    for await (const keys of c.scanStream({ match: "scan:*" })) for (const key of keys as string[]) seen.add(key);
    expect(seen.size).toBe(50);
  });

  it("connects to no address outside allowedAddresses, so no credentials go there: a node natMapped elsewhere is refused and reported", async () => {
    // Where a hijacked natMap (or a lying node) would send the client: a listener that records every connection.
    const seen: Buffer[] = [];
    const rogue = createServer((socket) => socket.on("data", (chunk: Buffer) => seen.push(chunk)));
    await new Promise<void>((resolve) => rogue.listen(0, "127.0.0.1", resolve));
    const roguePort = (rogue.address() as AddressInfo).port;
    let accepted = 0;
    rogue.on("connection", () => accepted++);
    const replica = cluster.replicas[0]!;
    try {
      const c = client({
        natMap: (address: string) => (address === replica.address ? `127.0.0.1:${roguePort}` : address),
        allowedAddresses: cluster.servers.map((s) => `127.0.0.*:${s.port}`),
        redis: { username: "default", password: "never-sent-anywhere-else" },
        readFrom: "replicaPreferred",
      });
      const refused: Array<{ address: string; reason: string }> = [];
      c.on("topology:refused", (event) => refused.push(event));
      await c.ready();
      await c.set("allowed:k", "v");
      await eventually(async () => expect(refused.map((r) => r.address)).toContain(replica.address));
      expect(refused.find((r) => r.address === replica.address)!.reason).toBe(`127.0.0.1:${roguePort} is not in allowedAddresses`);
      expect(c.topology().shards.flatMap((s) => s.replicas.map((r) => r.address))).not.toContain(`127.0.0.1:${roguePort}`);
      expect(accepted).toBe(0);
      expect(seen).toEqual([]);
    } finally {
      await new Promise((resolve) => rogue.close(resolve));
    }
  });

  it("refuses bad input with typed errors and never hangs", async () => {
    expect(() => new ShardedClient({ cluster: { seeds: ["127.0.0.1:1"] }, shards: [{ name: "a", master: "127.0.0.1:2" }] })).toThrow(ConfigError);
    expect(() => new ShardedClient({ cluster: { seeds: [] } })).toThrow(/cluster.seeds must be a non-empty array/);
    expect(() => new ShardedClient({ cluster: { seeds: ["127.0.0.1:1"] }, sharding: { strategy: "ketama" } })).toThrow(/leave out sharding/);
    const plain: RedisServer = await startRedis();
    try {
      const wrong = client({ cluster: { seeds: [plain.address] }, commandTimeoutMs: 500 });
      const errors: string[] = [];
      wrong.on("cluster:error", (e) => errors.push(e.node));
      const ready = await wrong.ready(500).catch((e: unknown) => e);
      expect(ready).toBeInstanceOf(ClusterError);
      expect((ready as ClusterError).node).toBe(plain.address);
      expect((ready as Error).message).toContain("not a cluster node (cluster support is disabled)");
      const command = await wrong.get("k").catch((e: unknown) => e);
      expect(command).toBeInstanceOf(ClusterError);
      expect(errors).toContain(plain.address);
    } finally {
      await plain.stop();
    }
    // A cluster in fail state: a cluster-enabled node serving no slots (and knowing no node that does) is no slot map.
    const empty: RedisServer = await startRedis({ cluster: true });
    try {
      const down = client({ cluster: { seeds: [empty.address] }, commandTimeoutMs: 400 });
      expect(String(await empty.client().call("CLUSTER", "INFO"))).toContain("cluster_state:fail");
      const started = performance.now();
      const command = await down.set("k", "v").catch((e: unknown) => e);
      expect(command).toBeInstanceOf(ClusterError);
      expect((command as ClusterError).node).toBe(empty.address);
      expect((command as Error).message).toMatch(/: no slot map by the command's deadline: .*knows no slot of any node/);
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      await empty.stop();
    }
  });
});
