/**
 * A write that reaches a demoted master gets READONLY: shardis re-reads the
 * topology and sends it, once, to the master the topology now names. The
 * demotion is made by hand (REPLICAOF, connections kept), and the topology
 * source is scripted, so neither Sentinel's events nor a ROLE check on
 * reconnect can tell the client first: only the READONLY reply does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardedClient } from "../../lib/index.js";
import { LAYOUT_SOURCE } from "../../lib/exec/Fleet.js";
import type { ShardNodes } from "../../lib/topology/Topology.js";
import { startRedis, stopAll, type RedisServer } from "../support/redis.js";
import { waitForLink } from "../support/sentinel.js";
import { eventually } from "../support/keys.js";
import { watchUnhandled } from "../support/fleet.js";

describe("READONLY from a demoted master", () => {
  let a: RedisServer;
  let b: RedisServer;
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    a = await startRedis();
    b = await startRedis({ args: ["--replicaof", "127.0.0.1", String(a.port)] });
    await waitForLink(b, a);
  });
  afterAll(async () => {
    unhandled.stop();
    await stopAll([a, b]);
    expect(unhandled.errors).toEqual([]);
  });

  it("re-reads the topology and sends the write to the new master once", async () => {
    const address = (s: RedisServer) => ({ host: s.host, port: s.port });
    let layout: ShardNodes = { master: address(a), replicas: [address(b)] };
    let observed = 0;
    const client = new ShardedClient({
      shards: [{ name: "s0", master: a.address, replicas: [b.address] }],
      topologyRefreshMs: 3_600_000,
      [LAYOUT_SOURCE]: {
        observe: async () => {
          observed++;
          return { shards: [layout] };
        },
      },
    } as ConstructorParameters<typeof ShardedClient>[0]);
    const reasons: string[] = [];
    client.on("topology", (e) => reasons.push(e.reason));
    try {
      expect(await client.incr("counter")).toBe(1);
      const before = observed;

      // Replication is asynchronous: let b have the first INCR before it is promoted.
      expect(await a.client().call("WAIT", "1", "2000")).toBe(1);
      // Swap the roles by hand; every connection stays open.
      await b.client().call("REPLICAOF", "NO", "ONE");
      await a.client().call("REPLICAOF", b.host, String(b.port));
      await eventually(async () => expect(((await a.client().call("ROLE")) as string[])[0]).toBe("slave"));
      layout = { master: address(b), replicas: [address(a)] };

      expect(await client.incr("counter")).toBe(2); // applied once, on the new master
      expect(observed).toBeGreaterThan(before);
      expect(reasons).toContain("READONLY reply");
      expect(client.topology().shards[0]!.master!.address).toBe(b.address);
      expect(await b.client().get("counter")).toBe("2");
    } finally {
      await client.quit();
    }
  });
  it("a blocking command that meets READONLY on a pooled connection never lands on the new master's shared connection", async () => {
    // Roles as the first test left them: b is the master, a its replica; swapped back by hand below.
    const address = (s: RedisServer) => ({ host: s.host, port: s.port });
    let layout: ShardNodes = { master: address(b), replicas: [address(a)] };
    const client = new ShardedClient({
      shards: [{ name: "s0", master: b.address, replicas: [a.address] }],
      topologyRefreshMs: 3_600_000,
      commandTimeoutMs: 1000,
      [LAYOUT_SOURCE]: { observe: async () => ({ shards: [layout] }) },
    } as ConstructorParameters<typeof ShardedClient>[0]);
    try {
      // A pooled connection to b, idle in its pool.
      expect(await client.blpop("{q}list", 0.05)).toBeNull();
      await a.client().call("REPLICAOF", "NO", "ONE");
      await b.client().call("REPLICAOF", a.host, String(a.port));
      await eventually(async () => expect(((await b.client().call("ROLE")) as string[])[0]).toBe("slave"));
      layout = { master: address(a), replicas: [address(b)] };

      const popped = client.blpop("{q}list", 3).catch((e: unknown) => e);
      // Once the topology names a, reads and writes go to a's shared connection: none may wait behind a BLPOP there.
      await eventually(async () => expect(client.topology().shards[0]!.master!.address).toBe(a.address));
      expect(await client.set("{q}other", "1")).toBe("OK");
      expect(await client.get("{q}other")).toBe("1");
      await client.lpush("{q}list", "x");
      const outcome = await popped;
      expect(outcome instanceof Error ? outcome.name : outcome).toEqual(["{q}list", "x"]);
    } finally {
      await client.quit();
    }
  });
});
