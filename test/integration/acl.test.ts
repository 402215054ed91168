/**
 * Least-privilege ACL users: the Redis ACL docs' own `+@all -@dangerous`
 * refuses ROLE and INFO, and stricter users refuse CLIENT TRACKING, WAIT,
 * PING. A refused command of shardis's own degrades its feature and says so
 * once per node (`acl:refused`); it never stops the node. Real servers,
 * each given the user with ACL SETUSER (ACLs are per node, not replicated).
 */
import { inspect } from "node:util";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NoPermissionError, NoReplicaAvailableError, ShardedClient, WriteConcernError } from "../../lib/index.js";
import type { ShardedClientOptions, ShardisEvents } from "../../lib/index.js";
import { startRedis, stopAll, type RedisServer } from "../support/redis.js";
import { startHaTopology, waitForLink, type HaTopology } from "../support/sentinel.js";
import { startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";
import { eventually, keyOn, READY_MS } from "../support/keys.js";
import { watchUnhandled } from "../support/fleet.js";

const PASSWORD = "acl-Pa55word-Nobody-Knows";
/** The Redis ACL documentation's example of a user that may not run dangerous commands. */
const NOT_DANGEROUS = ["~*", "&*", "+@all", "-@dangerous"];
/** The least-privilege user docs/high-availability.md gives: every feature of shardis works. */
const LEAST_PRIVILEGE = ["~*", "&*", "+@all", "-@dangerous", "+role", "+info"];

type Refusal = ShardisEvents["acl:refused"][0];

/** Creates (or replaces) the ACL user on a server, with the default user's connection. */
async function setUser(server: RedisServer, name: string, rules: string[]): Promise<void> {
  const admin = server.client();
  await admin.acl("DELUSER", name);
  await admin.acl("SETUSER", name, "on", `>${PASSWORD}`, ...rules);
}

/** Every acl:refused event a client emits, and anything else listeners should not see. */
function listen(client: ShardedClient) {
  const refusals: Refusal[] = [];
  const nodeErrors: Error[] = [];
  const nearErrors: Error[] = [];
  client.on("acl:refused", (event) => refusals.push(event));
  client.on("node:error", ({ error }) => nodeErrors.push(error));
  client.on("nearcache:error", ({ error }) => nearErrors.push(error));
  return {
    refusals,
    nodeErrors,
    nearErrors,
    /** "node command" of each refusal, sorted. */
    summary: () => refusals.map((r) => `${r.node} ${r.command}`).sort(),
  };
}

/** The password appears nowhere in what was emitted or thrown. */
function expectNoSecret(...values: unknown[]): void {
  for (const value of values) expect(inspect(value, { depth: 10, showHidden: true })).not.toContain(PASSWORD);
}

describe("least-privilege ACL users: a shard with replicas (ROLE checked)", () => {
  let master: RedisServer;
  let replica: RedisServer;
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();

  /** A client as `user`; `alone`: the shard is configured without its replica (no ROLE check, no replica health). */
  const client = (options: Partial<ShardedClientOptions> = {}, user = "app", alone = false) => {
    const c = new ShardedClient({
      shards: [{ name: "s0", master: master.address, replicas: alone ? [] : [replica.address] }],
      redis: { username: user, password: PASSWORD },
      commandTimeoutMs: 1500,
      healthCheckIntervalMs: 50,
      ...options,
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    master = await startRedis();
    replica = await startRedis({ args: ["--replicaof", "127.0.0.1", String(master.port)] });
    await waitForLink(replica, master);
    for (const server of [master, replica]) {
      await setUser(server, "app", NOT_DANGEROUS);
      await setUser(server, "full", LEAST_PRIVILEGE);
      await setUser(server, "notracking", [...NOT_DANGEROUS, "-client|tracking"]);
      await setUser(server, "nowait", [...NOT_DANGEROUS, "-wait"]);
      await setUser(server, "nolua", [...NOT_DANGEROUS, "-@scripting"]);
      await setUser(server, "nomulti", [...NOT_DANGEROUS, "-multi"]);
    }
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    unhandled.stop();
    await stopAll([master, replica]);
    expect(unhandled.errors).toEqual([]);
  });

  it("+@all -@dangerous: commands succeed within their deadline, and one event per node says ROLE was refused, with the fix", async () => {
    const c = client();
    const seen = listen(c);
    expect(await c.set("k", "v")).toBe("OK");
    expect(await c.get("k")).toBe("v");
    await eventually(async () => expect(seen.summary()).toEqual(expect.arrayContaining([`${master.address} ROLE`, `${replica.address} ROLE`])));
    const role = seen.refusals.find((r) => r.node === master.address && r.command === "ROLE")!;
    expect(role).toMatchObject({ shard: "s0", fix: "ACL SETUSER app +role" });
    expect(role.error).toBeInstanceOf(NoPermissionError);
    expect(role.error.code).toBe("ERR_SHARDIS_NO_PERMISSION");
    expect(role.error.message).toContain(`shard s0 (${master.address}): the ACL user may not run ROLE (NOPERM)`);

    // A new connection refused again is not news: still one event per node and feature.
    await master.client().client("KILL", "USER", "app");
    await eventually(async () => expect(await c.get("k")).toBe("v"));
    for (let i = 0; i < 20; i++) await c.get("k");
    expect(seen.refusals.filter((r) => r.command === "ROLE")).toHaveLength(2);
    expect(seen.nodeErrors.filter((e) => /ROLE|NOPERM/.test(e.message))).toEqual([]);
    expectNoSecret(seen.refusals, c);
  });

  it("INFO refused: replica lag is unknown, so replicaPreferred reads go to the master and readFrom replica says why", async () => {
    const c = client({ readFrom: "replicaPreferred" });
    const seen = listen(c);
    await c.set("lag", "1");
    await eventually(async () => expect(seen.summary()).toEqual(expect.arrayContaining([`${master.address} INFO`, `${replica.address} INFO`])));
    const info = seen.refusals.find((r) => r.node === replica.address && r.command === "INFO")!;
    expect(info.fix).toBe("ACL SETUSER app +info");
    expect(info.error.degraded).toContain("a replica of unknown lag is not read from");
    // Several health checks later, still one INFO event per node.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(seen.refusals.filter((r) => r.command === "INFO")).toHaveLength(2);
    expect(c.topology().shards[0]!.replicas[0]!.readable).toBe(false);
    // Round trips still measure latency (the NOPERM is an answer).
    expect(c.topology().shards[0]!.replicas[0]!.latencyMs).not.toBeNull();

    const before = await gets(master);
    for (let i = 0; i < 10; i++) expect(await c.get("lag")).toBe("1");
    expect((await gets(master)) - before).toBeGreaterThanOrEqual(10);

    const error = await c.readFrom("replica").get("lag").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoReplicaAvailableError);
    expect((error as Error).message).toContain("the ACL user may not run INFO");
  });

  it("with +role +info (the documented least-privilege user) nothing is refused and replicas are read", async () => {
    const c = client({ readFrom: "replica" }, "full");
    const seen = listen(c);
    await c.set("full", "1");
    await eventually(async () => expect(c.topology().shards[0]!.replicas[0]!.readable).toBe(true), 5000);
    await eventually(async () => expect(await c.get("full")).toBe("1"));
    expect(seen.refusals).toEqual([]);
  });

  it("CLIENT TRACKING refused: the near cache reads that shard from Redis, one event, no nearcache:error", async () => {
    const c = client({ nearCache: {} }, "notracking", true);
    const seen = listen(c);
    await c.set("near", "1");
    for (let i = 0; i < 3; i++) expect(await c.get("near")).toBe("1");
    await eventually(async () => expect(seen.refusals.map((r) => r.command)).toContain("CLIENT TRACKING"));
    await master.client().set("near", "2"); // no invalidation would come: the value must not have been kept
    expect(await c.get("near")).toBe("2");
    expect(c.nearCacheStats().hits).toBe(0);
    const tracking = seen.refusals.filter((r) => r.command === "CLIENT TRACKING" && r.node === master.address);
    expect(tracking).toHaveLength(1);
    expect(tracking[0]!.fix).toBe("ACL SETUSER notracking +client|tracking");
    // Reconnected: tracking is refused again, and that is not news.
    await master.client().client("KILL", "USER", "notracking");
    await eventually(async () => expect(await c.get("near")).toBe("2"));
    expect(seen.refusals.filter((r) => r.command === "CLIENT TRACKING" && r.node === master.address)).toHaveLength(1);
    expect(seen.nearErrors).toEqual([]);
  });

  it("WAIT refused: a write with a write concern is applied and rejects with WriteConcernError naming the fix, at once", async () => {
    const c = client({}, "nowait", true);
    const seen = listen(c);
    const concerned = c.with({ writeConcern: { replicas: 1, timeoutMs: 100 } });
    const error = await concerned.set("wc", "1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WriteConcernError);
    expect((error as WriteConcernError).reply).toBe("OK");
    expect((error as WriteConcernError).message).toContain("WAIT was refused by the ACL (ACL SETUSER nowait +wait)");
    expect((error as Error).cause).toBeInstanceOf(NoPermissionError);
    expect(await master.client().get("wc")).toBe("1");
    await expect(concerned.set("wc", "2")).rejects.toBeInstanceOf(WriteConcernError);
    expect(seen.refusals.filter((r) => r.command === "WAIT")).toHaveLength(1);
    expectNoSecret(error, seen.refusals);
  });

  it("MULTI refused: the block rejects with NoPermissionError (not EXEC's 'EXEC without MULTI'), later blocks fail before anything is sent", async () => {
    const c = client({}, "nomulti", true);
    const seen = listen(c);
    await c.ready();
    const admin = master.client();
    const first = await c.multi().set("{m}a", "1").incr("{m}n").exec().catch((e: unknown) => e);
    expect(first).toBeInstanceOf(NoPermissionError);
    expect((first as NoPermissionError).command).toBe("MULTI");
    expect((first as NoPermissionError).fix).toBe("ACL SETUSER nomulti +multi");
    // Redis ran the commands that followed the refused MULTI on their own: the error says so, and it happened.
    expect((first as NoPermissionError).degraded).toContain("outside a transaction");
    expect(await admin.get("{m}a")).toBe("1");
    const sets = async () => Number(/cmdstat_set:calls=(\d+)/.exec(await admin.info("commandstats"))?.[1] ?? 0);
    const before = await sets();
    await expect(c.multi().set("{m}a", "2").exec()).rejects.toBeInstanceOf(NoPermissionError);
    await expect(c.withConnection("{m}a", (conn) => conn.multi({ pipeline: false }))).rejects.toBeInstanceOf(NoPermissionError);
    // Before each block, MULTI and DISCARD ask whether MULTI is allowed now: no SET ran.
    expect(await sets()).toBe(before);
    expect(await admin.get("{m}a")).toBe("1");
    expect(seen.summary()).toEqual([`${master.address} MULTI`]);
    expectNoSecret(first, seen.refusals);
    // Allowed again: the next block asks, finds MULTI allowed, and runs.
    await admin.acl("SETUSER", "nomulti", "+multi");
    expect(await c.multi().set("{m}a", "3").incr("{m}n").exec()).toEqual([
      [null, "OK"],
      [null, 2],
    ]);
    expect(await admin.get("{m}a")).toBe("3");
  });

  it("MULTI allowed again after a refusal: the probe before a WATCHed block does not clear the WATCH (EXEC still sees the change)", async () => {
    await setUser(master, "multiback", [...NOT_DANGEROUS, "-multi"]);
    const c = client({}, "multiback", true);
    await c.ready();
    const admin = master.client();
    await expect(c.multi().set("{w}other", "1").exec()).rejects.toBeInstanceOf(NoPermissionError);
    await admin.acl("SETUSER", "multiback", "+multi");
    await admin.set("{w}k", "start");
    const outcome = await c.withConnection("{w}k", async (conn) => {
      await conn.watch("{w}k");
      await admin.set("{w}k", "theirs");
      return conn.multi().set("{w}k", "mine").exec();
    });
    // The watched key changed: EXEC must not commit.
    expect(outcome).toBeNull();
    expect(await admin.get("{w}k")).toBe("theirs");
  });

  it("cache layer without Lua (-@scripting): every getOrSet is answered by its loader, one acl:refused, no cache:error per call", async () => {
    const c = client({}, "nolua", true);
    const seen = listen(c);
    const cacheErrors: Error[] = [];
    c.on("cache:error", ({ error }) => cacheErrors.push(error));
    const users = c.cache<string>({ namespace: "acl", ttlMs: 10_000 });
    let loads = 0;
    for (let i = 0; i < 5; i++) expect(await users.getOrSet("u1", async () => `v${++loads}`)).toBe(`v${loads}`);
    expect(loads).toBe(5); // no lock, no write: the store cannot be used, the loader answers
    const scripts = seen.refusals.filter((r) => r.command === "EVAL");
    expect(scripts).toHaveLength(1);
    expect(scripts[0]).toMatchObject({ node: master.address, fix: "ACL SETUSER nolua +eval +evalsha" });
    expect(cacheErrors).toEqual([]);
  });

  it("server stats: INFO refused leaves that node without server_* figures, says so once, and the scrape works", async () => {
    const registry = new Registry();
    const c = client({ metrics: { registry, serverStatsIntervalMs: 100 } }, "app", true);
    const seen = listen(c);
    await c.set("m", "1");
    const stats = () => seen.refusals.filter((r) => r.error.degraded.includes("server_*"));
    await eventually(async () => expect(stats().map((r) => `${r.node} ${r.command}`)).toEqual([`${master.address} INFO`]));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stats()).toHaveLength(1);
    const text = await registry.metrics();
    expect(text).toContain("shardis_commands_total");
    expect(text).not.toContain(`shardis_server_used_memory_bytes{shard="s0"`);
  });
});

/** How many GETs a server has executed (INFO commandstats, asked as the default user). */
async function gets(server: RedisServer): Promise<number> {
  const info = await server.client().info("commandstats");
  return Number(/cmdstat_get:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

describe("least-privilege ACL users: the breaker's PING probe", () => {
  let server: RedisServer;
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    server = await startRedis();
    await setUser(server, "noping", [...NOT_DANGEROUS, "-ping"]);
  });
  afterAll(async () => {
    unhandled.stop();
    server.signal("SIGCONT");
    await server.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("a NOPERM to the probe proves the node alive: the breaker closes again", async () => {
    const c = new ShardedClient({
      shards: [{ name: "s0", master: server.address }],
      redis: { username: "noping", password: PASSWORD },
      commandTimeoutMs: 300,
      breaker: { resetTimeoutMs: 100, stallMs: 100 },
    });
    const states: string[] = [];
    c.on("breaker", ({ state }) => states.push(state));
    try {
      await c.ready(READY_MS);
      expect(await c.set("p", "1")).toBe("OK");
      server.signal("SIGSTOP");
      await eventually(async () => {
        await c.get("p").catch(() => undefined);
        expect(states).toContain("open");
      });
      server.signal("SIGCONT");
      await eventually(async () => expect(await c.get("p")).toBe("1"), 5000);
      expect(states.at(-1)).toBe("closed");
    } finally {
      server.signal("SIGCONT");
      await c.quit();
    }
  });
});

describe("least-privilege ACL users: a Sentinel-managed shard", () => {
  let ha: HaTopology;
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    ha = await startHaTopology({ shards: 1, replicasPerShard: 1 });
    for (const server of [ha.shards[0]!.master, ...ha.shards[0]!.replicas]) await setUser(server, "app", NOT_DANGEROUS);
    // A sentinel user who may only ask for the master's address and watch the events.
    for (const sentinel of ha.sentinels) {
      await sentinel.client().call("ACL", "SETUSER", "watcher", "on", `>${PASSWORD}`, "&*", "+sentinel|get-master-addr-by-name", "+subscribe", "+ping");
    }
  });
  afterAll(async () => {
    unhandled.stop();
    await ha?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("serves the master Sentinel names, and says once per node that ROLE was refused", async () => {
    const c = new ShardedClient({
      sentinels: ha.sentinels.map((s) => s.address),
      shards: [{ name: "s0", masterName: ha.shards[0]!.masterName }],
      redis: { username: "app", password: PASSWORD },
      commandTimeoutMs: 1500,
    });
    const seen = listen(c);
    try {
      expect(await c.set("k", "v")).toBe("OK");
      expect(await c.get("k")).toBe("v");
      expect(await ha.shards[0]!.master.client().get("k")).toBe("v");
      await eventually(async () => expect(seen.summary()).toContain(`${ha.shards[0]!.master.address} ROLE`));
      expect(seen.refusals.filter((r) => r.node === ha.shards[0]!.master.address && r.command === "ROLE")).toHaveLength(1);
      expectNoSecret(seen.refusals);
    } finally {
      await c.quit();
    }
  });

  it("a sentinel user without SENTINEL MASTER, REPLICAS, SENTINELS: the master is found, each refusal said once, the shard served", async () => {
    const c = new ShardedClient({
      sentinels: ha.sentinels.map((s) => s.address),
      sentinelOptions: { username: "watcher", password: PASSWORD },
      shards: [{ name: "s0", masterName: ha.shards[0]!.masterName }],
      commandTimeoutMs: 1500,
      topologyRefreshMs: 100,
    });
    const seen = listen(c);
    try {
      expect(await c.set("w", "1")).toBe("OK");
      expect(await c.get("w")).toBe("1");
      const commands = () => [...new Set(seen.refusals.map((r) => r.command))].sort();
      await eventually(async () => expect(commands()).toEqual(["SENTINEL MASTER", "SENTINEL REPLICAS", "SENTINEL SENTINELS"]));
      await new Promise((resolve) => setTimeout(resolve, 400)); // a few periodic re-reads
      const distinct = new Set(seen.refusals.map((r) => `${r.node} ${r.command}`));
      expect(seen.refusals).toHaveLength(distinct.size);
      expect(seen.refusals.find((r) => r.command === "SENTINEL REPLICAS")!.fix).toBe("ACL SETUSER watcher +sentinel|replicas");
      expect(c.topology().shards[0]!.master?.address).toBe(ha.shards[0]!.master.address);
      expect(c.topology().shards[0]!.replicas).toEqual([]);
      expectNoSecret(seen.refusals);
    } finally {
      await c.quit();
    }
  });
});

describe("least-privilege ACL users: a Redis Cluster", () => {
  let cluster: RedisClusterHandle;
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    cluster = await startRedisCluster(3, { replicas: 1 });
    await cluster.waitUntilStable();
    for (const server of cluster.servers) {
      await setUser(server, "app", NOT_DANGEROUS);
      await setUser(server, "noreadonly", [...LEAST_PRIVILEGE, "-readonly"]);
    }
  });
  afterAll(async () => {
    unhandled.stop();
    await cluster?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("serves every shard as the cluster map says, and says once per node that ROLE was refused", async () => {
    const c = new ShardedClient({
      cluster: { seeds: cluster.seeds },
      redis: { username: "app", password: PASSWORD },
      commandTimeoutMs: 1500,
    });
    const seen = listen(c);
    try {
      await c.ready(READY_MS);
      const names = c.topology().shards.map((s) => s.name);
      expect(names).toHaveLength(3);
      for (const shard of names) {
        const key = keyOn(c, shard, "acl");
        expect(await c.set(key, shard)).toBe("OK");
        expect(await c.get(key)).toBe(shard);
      }
      // Masters and replicas: each checked its role, each said once that it could not.
      const roles = () => seen.refusals.filter((r) => r.command === "ROLE");
      await eventually(async () => expect(roles()).toHaveLength(6));
      expect(new Set(roles().map((r) => r.node))).toEqual(new Set(cluster.servers.map((s) => s.address)));
    } finally {
      await c.quit();
    }
  });

  it("READONLY refused: no read goes to a replica that would answer MOVED; reads are served by the masters, one event per replica", async () => {
    const c = new ShardedClient({
      cluster: { seeds: cluster.seeds },
      redis: { username: "noreadonly", password: PASSWORD },
      commandTimeoutMs: 1500,
      readFrom: "replicaPreferred",
      healthCheckIntervalMs: 50,
    });
    const seen = listen(c);
    try {
      await c.ready(READY_MS);
      const readonly = () => seen.refusals.filter((r) => r.command === "READONLY");
      await eventually(async () => expect(readonly()).toHaveLength(3));
      expect(new Set(readonly().map((r) => r.node))).toEqual(new Set(cluster.replicas.map((s) => s.address)));
      expect(readonly()[0]!.fix).toBe("ACL SETUSER noreadonly +readonly");
      // Their lag is known (INFO allowed): only the refusal keeps reads off them.
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const shard of c.topology().shards) expect(shard.replicas.map((r) => r.readable)).toEqual([false]);
      const keys = c.topology().shards.map((s) => keyOn(c, s.name, "ro"));
      for (const key of keys) await c.set(key, "v");
      for (let i = 0; i < 5; i++) for (const key of keys) expect(await c.get(key)).toBe("v");
      expect(c.stats().shards.reduce((n, s) => n + s.redirects.moved, 0)).toBe(0);
      expect(seen.refusals.filter((r) => r.command !== "READONLY")).toEqual([]);
    } finally {
      await c.quit();
    }
  });
});
