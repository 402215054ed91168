import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CircuitOpenError,
  ConnectionError,
  ShardedClient,
  ShardisError,
  TimeoutError,
  type NodeEvent,
} from "../../lib/index.js";
import { freePort } from "../support/processes.js";
import { startFleet, watchUnhandled, type Fleet } from "../support/fleet.js";
import { eventually, keyOn, READY_MS } from "../support/keys.js";

describe("faults on one node", () => {
  let fleet: Fleet;
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    fleet = await startFleet(3);
  });
  afterAll(async () => {
    unhandled.stop();
    await fleet?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("a node that is down from the start: its commands fail fast once its breaker opens, naming shard, address and cause; others work", async () => {
    const deadPort = await freePort();
    const shards = [...fleet.shards.slice(0, 2), { name: "dead", master: `127.0.0.1:${deadPort}` }];
    const events: Array<[string, NodeEvent & { error?: Error }]> = [];
    // A deadline the breaker beats by far (it opens on the second refused attempt, 50-100 ms in), also on a busy
    // machine: a CircuitOpenError, not a TimeoutError, is what says the command failed fast.
    const client = new ShardedClient({ shards, commandTimeoutMs: 1500 });
    client.on("node:down", (e) => events.push(["down", e]));
    client.on("node:error", (e) => events.push(["error", e]));
    try {
      const deadKey = keyOn(client, "dead");
      const liveKey = keyOn(client, "s0");
      const started = performance.now();
      const [dead, live] = await Promise.allSettled([client.get(deadKey), client.set(liveKey, "ok")]);
      const elapsed = performance.now() - started;
      expect(live).toEqual({ status: "fulfilled", value: "OK" });
      expect(dead.status).toBe("rejected");
      // Queued for the connection, then failed when the breaker opened on the second refused attempt (before its deadline).
      const error = (dead as PromiseRejectedResult).reason as CircuitOpenError;
      expect(error).toBeInstanceOf(CircuitOpenError);
      expect(error).toBeInstanceOf(ShardisError);
      expect(error.code).toBe("ERR_SHARDIS_CIRCUIT_OPEN");
      expect(error.shard).toBe("dead");
      expect(error.node).toBe(`127.0.0.1:${deadPort}`);
      expect(error.message).toContain(`shard dead (127.0.0.1:${deadPort})`);
      expect(error.message).toContain("ECONNREFUSED");
      expect(elapsed).toBeLessThan(2000);
      // A multi-key command touching the dead shard fails as a whole, naming it.
      const mget = await client.mget(deadKey, liveKey).catch((e: unknown) => e);
      expect((mget as ShardisError).code).toBe("ERR_SHARDIS_PARTIAL_FAILURE");
      expect((mget as Error).message).toContain("dead:");
      expect(events.some(([kind, e]) => kind === "down" && e.shard === "dead")).toBe(true);
      expect(events.some(([kind, e]) => kind === "error" && e.error?.message.includes("ECONNREFUSED"))).toBe(true);
    } finally {
      await client.quit();
    }
  });

  it("a hung node (SIGSTOP): callers are released at their deadline, other shards unaffected, then it recovers", async () => {
    const client = fleet.client({ commandTimeoutMs: 400 });
    await client.ready(READY_MS);
    const hungKey = keyOn(client, "s1");
    const liveKey = keyOn(client, "s2");
    await client.set(hungKey, "before");
    fleet.servers[1]!.signal("SIGSTOP");
    try {
      const started = performance.now();
      const hung = client.get(hungKey).catch((e: unknown) => e);
      for (let i = 0; i < 20; i++) expect(await client.set(liveKey, String(i))).toBe("OK");
      const error = (await hung) as TimeoutError;
      const elapsed = performance.now() - started;
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error.message).toContain("did not answer");
      expect(error.node).toBe(fleet.servers[1]!.address);
      expect(elapsed).toBeGreaterThanOrEqual(390);
      expect(elapsed).toBeLessThan(1500);
    } finally {
      fleet.servers[1]!.signal("SIGCONT");
    }
    expect(await eventually(() => client.get(hungKey))).toBe("before");
  });

  it("a node killed with a command in flight: ConnectionError (may or may not have run), then recovery after restart", async () => {
    const client = fleet.client({ commandTimeoutMs: 5000 });
    const downs: NodeEvent[] = [];
    const readies: NodeEvent[] = [];
    client.on("node:down", (e) => downs.push(e));
    client.on("node:ready", (e) => readies.push(e));
    const key = keyOn(client, "s0", "inflight");
    await client.set(key, "1");
    const server = fleet.servers[0]!;
    server.signal("SIGSTOP");
    const inFlight = client.incr(key).catch((e: unknown) => e);
    // Written, and the stopped server cannot answer it.
    await eventually(async () => expect(client.stats().nodes.find((n) => n.shard === "s0")!.inflight).toBe(1));
    server.signal("SIGKILL");
    const error = (await inFlight) as ConnectionError;
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.code).toBe("ERR_SHARDIS_CONNECTION");
    expect(error.message).toContain("may or may not have been applied");
    expect(error.shard).toBe("s0");
    expect(downs.map((d) => d.shard)).toContain("s0");

    // While it is down, other shards keep working.
    expect(await client.set(keyOn(client, "s2", "other"), "x")).toBe("OK");

    await server.restart();
    await eventually(async () => expect(await client.set(key, "2")).toBe("OK"));
    expect(await client.get(key)).toBe("2");
    expect(readies.map((r) => r.shard)).toContain("s0");
  });

  it("commands queued while a node reconnects are sent once it is back, within their deadline (no breaker)", async () => {
    // With a breaker, they fail with CircuitOpenError when it opens instead (transactionFaults.test.ts).
    const client = fleet.client({ commandTimeoutMs: 3000, breaker: false });
    const key = keyOn(client, "s2", "queued");
    await client.set(key, "0");
    const server = fleet.servers[2]!;
    await server.halt();
    // Issued while the node is down; delivered after it is back.
    const pending = Promise.all([client.incr(key), client.incr(key), client.get(key)]);
    await eventually(async () => expect(client.stats().nodes.find((n) => n.shard === "s2")!.queued).toBe(3));
    await server.restart();
    // The restarted server has no data, so the counter starts again from nothing.
    expect(await pending).toEqual([1, 2, "2"]);
  });
});
