/**
 * ioredis's options that shardis maps onto its own mechanisms (retryStrategy,
 * maxRetriesPerRequest, enableOfflineQueue, socketTimeout, blockingTimeout,
 * connectionName), each run beside a real ioredis client given the same
 * option, through a fault proxy in front of one redis-server where the
 * scenario needs a fault; what both must show is compared.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { ConnectionError, ShardedClient, type ShardedClientOptions } from "../../lib/index.js";
import { startRedisMany, stopAll, type RedisServer } from "../support/redis.js";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy.js";
import { watchUnhandled } from "../support/fleet.js";
import { eventually } from "../support/keys.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;
type Kind = "ioredis" | "shardis";

/** A value, or the error's message: what a call ended with, bounded in time (an answer that never comes says so). */
async function outcome(run: () => Promise<unknown>, ms = 5000): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`(no answer within ${ms} ms)`)), ms)));
  try {
    return await Promise.race([run(), late]);
  } catch (error) {
    return { error: (error as Error).message, code: (error as { code?: string }).code };
  } finally {
    clearTimeout(timer);
  }
}

describe("ioredis options mapped onto shardis's mechanisms, beside ioredis", () => {
  let servers: RedisServer[];
  let proxy: FaultProxy;
  const unhandled = watchUnhandled();
  const made: Array<{ quit(): Promise<unknown>; disconnect(): void }> = [];

  beforeAll(async () => {
    servers = await startRedisMany(3);
    proxy = await startFaultProxy(servers[0]!);
  });
  afterAll(async () => {
    unhandled.stop();
    for (const client of made) client.disconnect();
    await proxy?.close();
    await stopAll(servers ?? []);
  });

  /** A client of that kind through the proxy, with ioredis options (shardis: under `redis`, one shard). */
  function make(kind: Kind, options: Record<string, unknown>, top: Partial<ShardedClientOptions> = {}): Loose {
    const client: Loose =
      kind === "ioredis"
        ? new Redis(proxy.port, "127.0.0.1", options)
        : new ShardedClient({ shards: [{ name: "s0", master: proxy.address }], redis: options, commandTimeoutMs: 4000, ...top });
    client.on("error", () => undefined);
    made.push(client);
    return client;
  }

  /** The scenario on ioredis, then on shardis, the proxy passing at the start of each. */
  async function both<T>(scenario: (kind: Kind) => Promise<T>): Promise<[T, T]> {
    const results: T[] = [];
    for (const kind of ["ioredis", "shardis"] as const) {
      proxy.set("pass");
      results.push(await scenario(kind));
    }
    proxy.set("pass");
    return results as [T, T];
  }

  /** ioredis's connection status, or the shardis client's: not "ready" once the loss was seen. */
  const lost = (client: Loose) => eventually(async () => expect(client.status).not.toBe("ready"));

  it("retryStrategy: called with each attempt's number, its delays reported; no delay stops reconnecting and commands fail with 'Connection is closed.'", async () => {
    const [a, b] = await both(async (kind) => {
      const calls: number[] = [];
      const delays: unknown[] = [];
      const client = make(kind, { retryStrategy: (times: number) => (calls.push(times), times < 3 ? 30 : null) });
      client.on("reconnecting", (delay: unknown) => delays.push(delay));
      await client.ping();
      proxy.set("reset");
      await eventually(async () => expect(calls).toEqual([1, 2, 3]));
      const after = await outcome(() => client.get("k"));
      return { calls, delays, after: (after as { error: string }).error };
    });
    expect(b).toEqual(a);
    expect(a).toEqual({ calls: [1, 2, 3], delays: [30, 30], after: "Connection is closed." });
  });

  it("retryStrategy: null (ioredis: never reconnect): the dropped connection is not reopened, commands fail with 'Connection is closed.'", async () => {
    const [a, b] = await both(async (kind) => {
      const client = make(kind, { retryStrategy: null });
      await client.ping();
      proxy.set("reset");
      // A GET in flight at the loss fails otherwise: asked again until the connection is seen closed for good.
      await eventually(async () => expect(await outcome(() => client.get("k"))).toMatchObject({ error: "Connection is closed." }));
      proxy.set("pass");
      // The node reachable again: still closed (a connection reconnecting would have served this GET).
      const later = (await outcome(() => client.get("k"))) as { error: string };
      return { later: later.error };
    });
    expect(b).toEqual(a);
    expect(a).toEqual({ later: "Connection is closed." });
  });

  it("maxRetriesPerRequest: a command waiting for the connection fails at the (n+1)th failed attempt, as ioredis's MaxRetriesPerRequestError", async () => {
    const message = 'Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.';
    const [a, b] = await both(async (kind) => {
      // shardis's breaker would fail the command sooner (an open breaker's CircuitOpenError): off, to see the option alone.
      const client = make(kind, { maxRetriesPerRequest: 1, retryStrategy: () => 50 }, { breaker: false });
      await client.ping();
      proxy.set("reset");
      await lost(client);
      const error = (await outcome(() => client.get("k").then(() => undefined, (e: Error) => e))) as Loose;
      return { name: error?.name, message: error?.message, code: error?.code, connectionError: error instanceof ConnectionError };
    });
    // What libraries read, ioredis's (the class's name and the message); shardis's is a ConnectionError with its code.
    expect(a).toEqual({ name: "MaxRetriesPerRequestError", message, code: undefined, connectionError: false });
    expect(b).toEqual({ ...a, code: "ERR_SHARDIS_CONNECTION", connectionError: true });
  });

  it("enableOfflineQueue: false fails a command at once while the connection is down, and commands run again once it is back", async () => {
    const message = "Stream isn't writeable and enableOfflineQueue options is false";
    const [a, b] = await both(async (kind) => {
      const client = make(kind, { enableOfflineQueue: false, retryStrategy: () => 50 });
      await eventually(async () => expect(client.status).toBe("ready"));
      const before = await client.set("{t}q", "1");
      proxy.set("reset");
      await lost(client);
      const down = await outcome(() => client.get("{t}q"));
      proxy.set("pass");
      // shardis's breaker, tripped by the outage, lets commands through again once its probe is answered.
      await eventually(async () => expect(await client.get("{t}q").catch(String)).toBe("1"));
      const after = await client.get("{t}q");
      // shardis opens a connection for a blocking command and for subscriptions: those wait for their own connect.
      const blocking = await client.blpop("{t}none", 0.05);
      return { before, down, after, blocking, subscribed: await client.subscribe("{t}ch") };
    });
    expect(a).toEqual({ before: "OK", down: { error: message, code: undefined }, after: "1", blocking: null, subscribed: 1 });
    expect(b).toEqual({ ...a, down: { error: `shard s0 (${proxy.address}): ${message}`, code: "ERR_SHARDIS_CONNECTION" } });
  });

  it("socketTimeout: a connection that answers nothing for that long is dropped with ioredis's error, failing what was in flight", async () => {
    const [a, b] = await both(async (kind) => {
      const errors: string[] = [];
      const client = make(kind, { socketTimeout: 300, retryStrategy: () => 50 });
      client.on("error", (error: Error) => errors.push(error.message));
      await client.ping();
      proxy.set("blackhole");
      // A write: shardis retries no INCR, so its outcome is the loss itself (ioredis would re-send it on the next connection).
      const pending = outcome(() => client.incr("{t}n"), 3000);
      await eventually(async () => expect(errors).toContain("Socket timeout. Expecting data, but didn't receive any in 300ms."));
      const incr = kind === "shardis" ? await pending : undefined;
      client.disconnect();
      await pending;
      return { incr };
    });
    expect(a).toEqual({ incr: undefined });
    expect(b.incr).toMatchObject({ error: expect.stringContaining("connection lost with the command in flight"), code: "ERR_SHARDIS_CONNECTION" });
  });

  it("blockingTimeout: a blocking command left without a reply resolves null after it; shardis drops that connection rather than lend it still blocked", async () => {
    const [a, b] = await both(async (kind) => {
      const client = make(kind, { blockingTimeout: 300 });
      await client.ping();
      // The server never answers BLPOP 0 on an empty list: only the net ends it.
      const key = `{t}empty-${kind}`;
      const popped = await outcome(() => client.blpop(key, 0));
      if (kind === "ioredis") {
        // ioredis's connection still holds the BLPOP at the server, which would take the next value pushed: closed here.
        client.disconnect();
        return { popped };
      }
      // shardis's abandoned BLPOP must not take what is pushed next: its connection is gone.
      await client.lpush(key, "kept");
      return { popped, kept: await client.lrange(key, 0, -1) };
    });
    expect(a).toEqual({ popped: null });
    expect(b).toEqual({ popped: null, kept: ["kept"] });
  });

  it("commandTimeout: a command without a reply fails after it (shardis: as commandTimeoutMs, TimeoutError); duplicate() takes it too", async () => {
    const [a, b] = await both(async (kind) => {
      const client = kind === "ioredis" ? make(kind, { commandTimeout: 200 }) : make(kind, { commandTimeout: 200 }, { commandTimeoutMs: undefined });
      await client.ping();
      const copy = client.duplicate({ commandTimeout: 300 });
      copy.on("error", () => undefined);
      made.push(copy);
      await copy.ping();
      proxy.set("blackhole");
      const outcomes = [await outcome(() => client.get("{t}a")), await outcome(() => copy.get("{t}a"))];
      return outcomes.map((o) => (o as { error: string }).error);
    });
    expect(a).toEqual(["Command timed out", "Command timed out"]);
    expect(b).toEqual([`shard s0 (${proxy.address}): no reply within 200 ms (the node did not answer)`, `shard s0 (${proxy.address}): no reply within 300 ms (the node did not answer)`]);
  });

  it("connectionName: CLIENT SETNAME on every connection, shared, pooled (blocking) and subscriber, on every shard", async () => {
    const client = new ShardedClient({ shards: servers.map((s, i) => ({ name: `s${i}`, master: s.address })), redis: { connectionName: "named-app" } });
    made.push(client);
    await client.ready();
    // Commands no other test here sends, so the connections that ran them are this client's.
    await Promise.all([0, 1, 2].map((i) => client.shard(`s${i}`).bzpopmin(`{x${i}}z`, 0.05)));
    await client.psubscribe("named-*");
    const lists = await Promise.all(servers.map(async (s) => String(await s.client().client("LIST")).split("\n")));
    for (const lines of lists) {
      const ran = lines.filter((line) => line.includes("cmd=bzpopmin") || line.includes("cmd=psubscribe"));
      expect(ran).toHaveLength(2);
      expect(ran.every((line) => line.includes(" name=named-app "))).toBe(true);
      // And the shared connection (PING from ready()'s check or the client's own commands).
      expect(lines.filter((line) => line.includes(" name=named-app ")).length).toBeGreaterThanOrEqual(3);
    }
  });

  it("leaves no unhandled rejection", () => {
    expect(unhandled.errors).toEqual([]);
  });
});
