/**
 * TLS end to end, against redis-servers that listen on TLS only (`--port
 * 0`), with certificates made at test time by a private CA and verification
 * left on: plain shards, mutual TLS (client certificates), and what a wrong
 * CA or a missing client certificate gets.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CircuitOpenError, ConnectionError, ShardedClient, TimeoutError } from "../../lib/index.js";
import type { ShardedClientOptions } from "../../lib/index.js";
import { keyOn } from "../support/keys.js";
import { startRedisMany, stopAll, type RedisServer } from "../support/redis.js";
import { watchUnhandled } from "../support/fleet.js";
import { clientTls, makeCertificates, type TlsFiles } from "../support/tls.js";
import { startHaTopology, type HaTopology } from "../support/sentinel.js";
import { killMasterUnderWrites } from "../support/failover.js";

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
    await c.subscribe("tls-news", (message) => received(message));
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

/** How a command fails at a node it cannot reach: its deadline, or the breaker the failed connection opened. */
function unreachable(error: unknown): boolean {
  return error instanceof TimeoutError || error instanceof CircuitOpenError || error instanceof ConnectionError;
}
