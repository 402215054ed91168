/**
 * Transactions and connection state under faults, against real servers:
 * a MULTI/EXEC block is one unit in every queue (accepted, refused or
 * expired whole, so no connection is ever left inside MULTI), and state a
 * reconnect destroys (WATCH, an unpipelined MULTI) is never assumed.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { CircuitOpenError, QueueFullError, ShardedClient, UnsupportedCommandError, WatchLostError, type ShardisError } from "../../lib/index.js";
import { startRedis, type RedisServer } from "../support/redis.js";
import { watchUnhandled } from "../support/fleet.js";
import { eventually, READY_MS } from "../support/keys.js";

/** The connections of the server whose flags say they sit inside MULTI (CLIENT LIST flags=x). */
async function insideMulti(raw: Redis): Promise<string[]> {
  const list = (await raw.client("LIST")) as string;
  return list.split("\n").filter((line) => / flags=\S*x/.test(line));
}

/** The client is ready, then its node is SIGKILLed: resolves once the client saw the connection go down. */
async function killed(client: ShardedClient, server: RedisServer): Promise<void> {
  await client.ready(READY_MS);
  const down = new Promise<void>((resolve) => client.once("node:down", () => resolve()));
  server.signal("SIGKILL");
  await down;
}

describe("a MULTI/EXEC block is one unit in the write queue", () => {
  let server: RedisServer;
  let raw: Redis;
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    server = await startRedis();
    raw = server.client();
  });
  afterAll(async () => {
    unhandled.stop();
    await server?.stop();
  });
  beforeEach(async () => {
    await eventually(async () => expect(await raw.flushall()).toBe("OK"), 10_000);
  });

  const client = (options: Partial<ConstructorParameters<typeof ShardedClient>[0]> = {}) =>
    new ShardedClient({ shards: [{ name: "s0", master: server.address }], breaker: false, commandTimeoutMs: 15_000, ...options });

  it("is accepted whole behind a nearly full queue: after the node comes back nobody gets QUEUED", async () => {
    const c = client({ maxQueueLength: 5 });
    try {
      await killed(c, server);
      // Four GETs wait for the connection; the block is the fifth entry (it used to be three: MULTI in, the rest refused).
      const waiting = Array.from({ length: 4 }, () => c.get("{t}w"));
      const block = c.multi().set("{t}a", "1").incr("{t}n").exec();
      await server.restart();
      expect(await block).toEqual([
        [null, "OK"],
        [null, 1],
      ]);
      expect(await Promise.all(waiting)).toEqual([null, null, null, null]);
      // Everyone else's commands run as themselves, outside any transaction.
      expect(await c.set("y", "1")).toBe("OK");
      expect(await c.get("y")).toBe("1");
      expect(await insideMulti(raw)).toEqual([]);
      expect(unhandled.errors).toEqual([]);
    } finally {
      await c.quit();
    }
  });

  it("is refused whole when the queue is full: nothing of it runs, and the connection is clean afterwards", async () => {
    const c = client({ maxQueueLength: 5 });
    try {
      await killed(c, server);
      const waiting = Array.from({ length: 5 }, () => c.get("{t}w"));
      const refused = await c.multi().set("{t}a", "1").exec().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(QueueFullError);
      await server.restart();
      expect(await Promise.all(waiting)).toEqual([null, null, null, null, null]);
      expect(await c.set("y", "1")).toBe("OK");
      expect(await c.get("y")).toBe("1");
      expect(await raw.exists("{t}a")).toBe(0);
      expect(await insideMulti(raw)).toEqual([]);
    } finally {
      await c.quit();
    }
  });

  it("expires whole while the node is away: no part of it is written later", async () => {
    const c = client({ commandTimeoutMs: 300 });
    try {
      await killed(c, server);
      const block = await c.multi().set("{t}late", "1").exec().catch((e: unknown) => e);
      expect((block as ShardisError).code).toBe("ERR_SHARDIS_TIMEOUT");
      await server.restart();
      await eventually(async () => expect(await c.set("y", "2")).toBe("OK"), 10_000);
      expect(await c.get("y")).toBe("2");
      expect(await raw.exists("{t}late")).toBe(0);
      expect(await insideMulti(raw)).toEqual([]);
    } finally {
      await c.quit();
    }
  });
});

describe("connection state a reconnect destroys is never assumed", () => {
  let server: RedisServer;
  let raw: Redis;
  let c: ShardedClient;
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    server = await startRedis();
    raw = server.client();
    c = new ShardedClient({ shards: [{ name: "s0", master: server.address }], commandTimeoutMs: 5000, pool: { max: 1 } });
    await c.ready();
  });
  afterAll(async () => {
    unhandled.stop();
    await c?.quit();
    await server?.stop();
  });
  beforeEach(async () => {
    await raw.flushall();
  });

  /** Kills the dedicated connection from the server's side; it reconnects by itself. */
  async function kill(conn: { client(...args: string[]): Promise<unknown> }): Promise<void> {
    const id = (await conn.client("ID")) as number;
    expect(await raw.client("KILL", "ID", String(id))).toBe(1);
  }

  it("a WATCH lost with its connection makes EXEC fail with WatchLostError instead of committing", async () => {
    const outcome = await c
      .withConnection("k", async (conn) => {
        await conn.watch("k");
        const id = (await conn.client("ID")) as number;
        expect(await raw.client("KILL", "ID", String(id))).toBe(1);
        // Another client changes the watched key while this one is away.
        await raw.set("k", "theirs");
        return conn.multi().set("k", "mine").exec();
      })
      .catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(WatchLostError);
    expect((outcome as WatchLostError).code).toBe("ERR_SHARDIS_WATCH_LOST");
    expect(await raw.get("k")).toBe("theirs");
    // The pooled connection is clean for the next borrower: a fresh WATCH works as usual.
    const again = await c.withConnection("k", async (conn) => {
      await conn.watch("k");
      return conn.multi().set("k", "mine").exec();
    });
    expect(again).toEqual([[null, "OK"]]);
    expect(unhandled.errors).toEqual([]);
  });

  it("every command after the loss fails until the WATCH scope ends; UNWATCH ends it", async () => {
    await c.withConnection("k", async (conn) => {
      await conn.watch("k");
      await kill(conn);
      await expect(conn.get("k")).rejects.toBeInstanceOf(WatchLostError);
      await expect(conn.multi().set("k", "x").exec()).rejects.toBeInstanceOf(WatchLostError);
      // EXEC ended the scope: the connection is usable again, with no WATCH.
      expect(await conn.set("k", "after")).toBe("OK");
    });
    expect(await raw.get("k")).toBe("after");
    await c.withConnection("k", async (conn) => {
      await conn.watch("k");
      await kill(conn);
      expect(await conn.unwatch()).toBe("OK");
      expect(await conn.get("k")).toBe("after");
    });
  });

  it("an unpipelined MULTI lost with its connection: queued commands never run outside the block, EXEC never runs", async () => {
    const error = await c
      .withConnection("k", async (conn) => {
        await conn.multi({ pipeline: false });
        expect(await conn.set("k", "1")).toBe("QUEUED");
        const [inBlock] = await insideMulti(raw);
        const id = inBlock!.match(/id=(\d+)/)![1]!;
        expect(await raw.client("KILL", "ID", id)).toBe(1);
        // Without the check this would run at once on the new connection, outside any transaction.
        await expect(conn.set("k2", "2")).rejects.toBeInstanceOf(WatchLostError);
        return conn.exec();
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WatchLostError);
    expect(await raw.exists("k", "k2")).toBe(0);
    expect(await insideMulti(raw)).toEqual([]);
  });
});

describe("a dedicated connection goes back to the pool clean whatever failed", () => {
  let server: RedisServer;
  let raw: Redis;
  let c: ShardedClient;
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    server = await startRedis();
    raw = server.client();
  });
  beforeEach(async () => {
    await raw.flushall();
    // One pooled connection, so the next borrower gets the one the last left; a breaker that opens quickly and
    // stays open long enough (2 s) for the test's next commands to meet it on a busy machine, then closes.
    c = new ShardedClient({
      shards: [{ name: "s0", master: server.address }],
      commandTimeoutMs: 5000,
      pool: { max: 1 },
      breaker: { stallMs: 100, resetTimeoutMs: 2000 },
    });
    await c.ready();
  });
  afterEach(async () => {
    server.signal("SIGCONT");
    await c?.quit();
  });
  afterAll(async () => {
    unhandled.stop();
    await server?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  /** The node stalls until its breaker opens (a dedicated connection's own commands are fine); resolves once it answers again. */
  async function openBreaker(): Promise<void> {
    const opened = new Promise<void>((resolve) => c.on("breaker", ({ state }) => state === "open" && resolve()));
    server.signal("SIGSTOP");
    const stalled = c.get("stall").catch(() => undefined);
    await opened;
    server.signal("SIGCONT");
    await stalled;
  }

  /** The breaker has closed again. */
  const closed = () => eventually(async () => expect(await c.get("stall")).toBeNull(), 10_000);

  it("a WATCHed block refused by an open breaker leaves no WATCH behind for the next borrower", async () => {
    await raw.set("k", "start");
    const refused = await c.withConnection("k", async (conn) => {
      await conn.watch("k");
      await openBreaker();
      return conn.multi().set("k", "mine").exec().catch((e: unknown) => e);
    });
    expect(refused).toBeInstanceOf(CircuitOpenError);
    await closed();
    // The first borrower's WATCH would make this block abort (null), though this borrower watched nothing.
    await raw.set("k", "theirs");
    expect(await c.withConnection("k", (conn) => conn.multi().set("k", "next").exec())).toEqual([[null, "OK"]]);
  });

  it("an UNWATCH refused by an open breaker leaves no WATCH behind for the next borrower", async () => {
    await raw.set("k", "start");
    const refused = await c.withConnection("k", async (conn) => {
      await conn.watch("k");
      await openBreaker();
      return conn.unwatch().catch((e: unknown) => e);
    });
    expect(refused).toBeInstanceOf(CircuitOpenError);
    await closed();
    await raw.set("k", "theirs");
    expect(await c.withConnection("k", (conn) => conn.multi().set("k", "next").exec())).toEqual([[null, "OK"]]);
  });

  it("an unpipelined MULTI whose EXEC an open breaker refused is not lent, still open, to the next borrower", async () => {
    const refused = await c.withConnection("k", async (conn) => {
      await conn.multi({ pipeline: false });
      expect(await conn.set("u", "1")).toBe("QUEUED");
      await openBreaker();
      return conn.exec().catch((e: unknown) => e);
    });
    expect(refused).toBeInstanceOf(CircuitOpenError);
    await closed();
    // Inside the first borrower's MULTI, this SET would answer QUEUED.
    expect(await c.withConnection("k", (conn) => conn.set("y", "1"))).toBe("OK");
    expect(await insideMulti(raw)).toEqual([]);
    expect(await raw.get("u")).toBeNull();
  });

  it("an unpipelined MULTI outlives an open breaker: what it refused is not in the block, EXEC once it closes runs the rest", async () => {
    const results = await c.withConnection("k", async (conn) => {
      await conn.multi({ pipeline: false });
      expect(await conn.set("u", "1")).toBe("QUEUED");
      await openBreaker();
      await expect(conn.incr("n")).rejects.toBeInstanceOf(CircuitOpenError);
      await expect(conn.exec()).rejects.toBeInstanceOf(CircuitOpenError);
      await closed();
      return conn.exec();
    });
    expect(results).toEqual([[null, "OK"]]);
    expect(await raw.get("u")).toBe("1");
    expect(await raw.get("n")).toBeNull();
  });
});

describe("a dedicated connection's blocks do not nest", () => {
  let server: RedisServer;
  let raw: Redis;
  let c: ShardedClient;

  beforeAll(async () => {
    server = await startRedis();
    raw = server.client();
    c = new ShardedClient({ shards: [{ name: "s0", master: server.address }], pool: { max: 1 } });
  });
  afterAll(async () => {
    await c?.quit();
    await server?.stop();
  });

  it("conn.multi()...exec() while a multi({ pipeline: false }) block is open is refused before anything is sent", async () => {
    const results = await c.withConnection("k", async (conn) => {
      await conn.multi({ pipeline: false });
      expect(await conn.set("a", "1")).toBe("QUEUED");
      // Sent, its MULTI would be refused as nested and its EXEC would commit the open block.
      await expect(conn.multi().set("b", "2").exec()).rejects.toBeInstanceOf(UnsupportedCommandError);
      expect(await raw.exists("a", "b")).toBe(0);
      return conn.exec();
    });
    expect(results).toEqual([[null, "OK"]]);
    expect(await raw.exists("a", "b")).toBe(1);
  });

  it("a command the server refuses to queue without aborting the block (WATCH inside MULTI) takes no place among EXEC's replies", async () => {
    const results = await c.withConnection("{w}a", async (conn) => {
      await conn.multi({ pipeline: false });
      expect(await conn.set("{w}a", "1")).toBe("QUEUED");
      await expect(conn.watch("{w}a")).rejects.toThrow(/WATCH inside MULTI is not allowed/);
      expect(await conn.incr("{w}n")).toBe("QUEUED");
      return conn.exec();
    });
    expect(results).toEqual([
      [null, "OK"],
      [null, 1],
    ]);
  });
});

describe("a breaker that opens fails the node's queued commands at once", () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => server?.stop());

  it("commands waiting for a dead node's connection get CircuitOpenError when the breaker opens, not a timeout later", async () => {
    const c = new ShardedClient({
      shards: [{ name: "s0", master: server.address }],
      commandTimeoutMs: 20_000,
      breaker: { resetTimeoutMs: 60_000 },
      fallback: (command) => (command === "get" ? "from-fallback" : undefined),
    });
    try {
      await killed(c, server);
      const opened = new Promise<void>((resolve) => c.on("breaker", ({ state }) => state === "open" && resolve()));
      const write = c.set("w", "1").catch((e: unknown) => e);
      const read = c.get("r");
      await opened;
      expect(await write).toBeInstanceOf(CircuitOpenError);
      // Reads queued before the breaker opened get the fallback, as reads sent after it do.
      expect(await read).toBe("from-fallback");
    } finally {
      await c.quit();
      await server.restart();
    }
  });
});
