/**
 * TLS end to end, against redis-servers that listen on TLS only (`--port
 * 0`), with certificates made at test time by a private CA and verification
 * left on: plain shards, mutual TLS (client certificates), and what a wrong
 * CA or a missing client certificate gets.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CircuitOpenError, ConnectionError, ShardedClient, TimeoutError } from "../../lib/index.js";
import type { ShardedClientOptions } from "../../lib/index.js";
import { eventually, keyOn, READY_MS } from "../support/keys.js";
import { startRedisMany, stopAll, type RedisServer } from "../support/redis.js";
import { watchUnhandled } from "../support/fleet.js";
import { clientTls, makeCertificates, type TlsFiles } from "../support/tls.js";
import { startHaTopology, type HaTopology } from "../support/sentinel.js";
import { killMasterUnderWrites } from "../support/failover.js";
import { startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";
import type { LookupFunction } from "node:net";

describe("TLS to plain shards", () => {
  let files: TlsFiles;
  let other: TlsFiles;
  let servers: RedisServer[] = [];
  let mutual: RedisServer[] = [];
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();

  const client = (over: RedisServer[], options: Partial<ShardedClientOptions>) => {
    const c = new ShardedClient({ shards: over.map((s, i) => ({ name: `s${i}`, master: s.address })), ...options });
    c.on("node:error", () => undefined);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    files = makeCertificates();
    other = makeCertificates();
    [servers, mutual] = await Promise.all([startRedisMany(3, { tls: { files } }), startRedisMany(2, { tls: { files, mutual: true } })]);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    unhandled.stop();
    await stopAll([...servers, ...mutual]);
    files?.remove();
    other?.remove();
    expect(unhandled.errors).toEqual([]);
  });

  it("serves every command kind over TLS with the server verified against a private CA", async () => {
    const c = client(servers, { redis: { tls: { ca: files.ca } } });
    await c.ready();
    const keys = ["s0", "s1", "s2"].map((s) => keyOn(c, s, "tls"));
    expect(await c.mset(Object.fromEntries(keys.map((k) => [k, k])))).toBe("OK");
    expect(await c.mget(...keys)).toEqual(keys);
    expect(await c.pipeline().incr(keys[0]! + ":n").get(keys[1]!).exec()).toEqual([[null, 1], [null, keys[1]]]);
    expect(await c.multi().set(keys[2]!, "x").get(keys[2]!).exec()).toEqual([[null, "OK"], [null, "x"]]);
    expect(await c.blpop(keys[0]! + ":empty", 0.05)).toBeNull(); // a pooled connection over TLS
    let received: (message: string) => void = () => undefined;
    const got = new Promise<string>((resolve) => (received = resolve));
    await c.subscribe("tls-news", { handler: (message) => received(message) });
    expect(await c.publish("tls-news", "hi")).toBe(1);
    expect(await got).toBe("hi");
  });

  it("refuses a server whose certificate the CA did not sign: the node's error names the cause, commands fail typed", async () => {
    const c = client(servers.slice(0, 1), { redis: { tls: { ca: other.ca } }, commandTimeoutMs: 300 });
    const errors: Error[] = [];
    c.on("node:error", ({ error }) => errors.push(error));
    const error = await c.get("k").catch((e: unknown) => e);
    expect(unreachable(error), String(error)).toBe(true);
    expect(errors.map((e) => e.message).join("; ")).toMatch(/self[- ]signed|unable to (get|verify)/i);
  });

  it("mutual TLS: a client certificate opens the connection; without one the server refuses it", async () => {
    const c = client(mutual, { redis: { tls: clientTls(files) } });
    await c.ready();
    const key = keyOn(c, "s1", "mtls");
    expect(await c.set(key, "v")).toBe("OK");
    expect(await c.get(key)).toBe("v");

    const anonymous = client(mutual, { redis: { tls: { ca: files.ca } }, commandTimeoutMs: 300 });
    const error = await anonymous.get(key).catch((e: unknown) => e);
    expect(unreachable(error), String(error)).toBe(true);
  });
});


describe("TLS with Sentinel: to the sentinels and to the data nodes they announce", () => {
  let files: TlsFiles;
  let ha: HaTopology;
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    files = makeCertificates();
    ha = await startHaTopology({ shards: 2, replicasPerShard: 1, sentinels: 3, tls: { files } });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    unhandled.stop();
    await ha?.stop();
    files?.remove();
    expect(unhandled.errors).toEqual([]);
  });

  it("discovers masters and replicas through TLS sentinels, serves over TLS, and follows a failover", async () => {
    const c = new ShardedClient({
      sentinels: ha.sentinels.map((s) => s.address),
      sentinelOptions: { tls: { ca: files.ca } },
      shards: ha.shards.map((s, i) => ({ name: `s${i}`, masterName: s.masterName })),
      redis: { tls: { ca: files.ca } },
      readFrom: "replicaPreferred",
    });
    clients.push(c);
    c.on("node:error", () => undefined);
    await c.ready();
    c.topology().shards.forEach((shard, i) => {
      expect(shard.master!.address).toBe(ha.shards[i]!.master.address);
      expect(shard.replicas.map((r) => r.address)).toEqual(ha.shards[i]!.replicas.map((r) => r.address));
    });
    const key = keyOn(c, "s0", "tls-ha");
    expect(await c.set(key, "v")).toBe("OK");
    const run = await killMasterUnderWrites(ha, c, 0, key);
    expect(run.outcomes.some((o) => o.ok && o.at > run.switchedAt)).toBe(true);
    expect(c.topology().shards[0]!.master!.address).toBe(ha.shards[0]!.replicas[0]!.address);
  });
});

describe("TLS over a Redis Cluster: tls-cluster, --port 0, nodes announced by hostname", () => {
  let files: TlsFiles;
  let cluster: RedisClusterHandle;
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();
  const hostname = (server: RedisServer) => `node-${server.port}.shardis.test`;
  /** Resolves the test's hostnames to loopback, as DNS would resolve a managed service's names. */
  const lookup = ((name: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (!name.endsWith(".shardis.test")) return callback(new Error(`test lookup: unknown host ${name}`));
    if (options.all) callback(null, [{ address: "127.0.0.1", family: 4 }]);
    else callback(null, "127.0.0.1", 4);
  }) as unknown as LookupFunction;

  beforeAll(async () => {
    // Issued for the hostnames only: a connection to 127.0.0.1 would fail verification.
    files = makeCertificates({ hostnames: ["*.shardis.test"] });
    cluster = await startRedisCluster(3, { replicas: 1, tls: { files }, hostname });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    unhandled.stop();
    await cluster?.stop();
    files?.remove();
    expect(unhandled.errors).toEqual([]);
  });

  const track = (c: ShardedClient) => (clients.push(c), c.on("node:error", () => undefined), c);

  it("dials the hostnames the cluster announces on their TLS ports, verifying each node's certificate against the name dialled", async () => {
    const seed = cluster.masters[0]!;
    const c = track(new ShardedClient({ cluster: { seeds: [`${hostname(seed)}:${seed.port}`] }, redis: { tls: { ca: files.ca, lookup } }, readFrom: "replicaPreferred" }));
    await c.ready();
    const view = c.topology();
    expect(view.shards.map((s) => s.master!.address).sort()).toEqual(cluster.masters.map((m) => `${hostname(m)}:${m.port}`).sort());
    expect(view.shards.every((s) => s.replicas.length === 1 && /\.shardis\.test:/.test(s.replicas[0]!.address))).toBe(true);
    const keys = view.shards.map((s) => keyOn(c, s.name, "tls-cluster"));
    expect(await c.mset(Object.fromEntries(keys.map((k) => [k, k])))).toBe("OK");
    expect(await c.mget(...keys)).toEqual(keys);
    // A MOVED reply names the node by hostname too: a command sent to the wrong shard follows it there.
    expect(await c.shard(view.shards[1]!.name).get(keys[0]!)).toBe(keys[0]);
    await eventually(async () => expect(await c.readFrom("replica").get(keys[2]!)).toBe(keys[2]));
  });

  it("keeps the announced name as the TLS servername when natMap sends the client to an IP", async () => {
    const natMap = Object.fromEntries(cluster.servers.map((s) => [`${hostname(s)}:${s.port}`, s.address]));
    const seed = cluster.masters[1]!;
    const seeds = [
      // A seed by name (the lookup serves it alone: every node learned is natMapped to 127.0.0.1) ...
      { seeds: [`${hostname(seed)}:${seed.port}`], tls: { ca: files.ca, lookup } },
      // ... or by IP, verified against the servername given for it: nodes learned keep their own names.
      { seeds: [seed.address], tls: { ca: files.ca, servername: hostname(seed) } },
    ];
    for (const { seeds: list, tls } of seeds) {
      const c = track(new ShardedClient({ cluster: { seeds: list }, natMap, redis: { tls }, commandTimeoutMs: 2000 }));
      await c.ready(READY_MS);
      const view = c.topology();
      expect(view.shards.map((s) => s.master!.address).sort()).toEqual(cluster.masters.map((m) => m.address).sort());
      const keys = view.shards.map((s) => keyOn(c, s.name, "tls-nat"));
      expect(await c.mset(Object.fromEntries(keys.map((k) => [k, "v"])))).toBe("OK");
      expect(await c.mget(...keys)).toEqual(keys.map(() => "v"));
    }
  });
});

/** How a command fails at a node it cannot reach: its deadline, or the breaker the failed connection opened. */
function unreachable(error: unknown): boolean {
  return error instanceof TimeoutError || error instanceof CircuitOpenError || error instanceof ConnectionError;
}
