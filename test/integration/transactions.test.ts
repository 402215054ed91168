import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ReplyError } from "ioredis";
import {
  AlreadyExecutedError,
  ConnectionReleasedError,
  CrossShardError,
  KeylessCommandError,
  PoolExhaustedError,
  ShardedClient,
  UnsupportedCommandError,
} from "../../lib/index.js";
import { startFleet, type Fleet } from "../support/fleet.js";
import { eventually, keyOn, readsProcessed } from "../support/keys.js";

describe("transactions", () => {
  let fleet: Fleet;
  let client: ShardedClient;

  beforeAll(async () => {
    fleet = await startFleet(3);
    client = fleet.client({ pool: { max: 2, acquireTimeoutMs: 300 } });
  });
  afterAll(async () => fleet?.stop());
  beforeEach(async () => fleet.flushAll());

  describe("client.multi()", () => {
    it("runs a MULTI/EXEC block on the shard of its keys and returns results like ioredis", async () => {
      const results = await client
        .multi()
        .set("{u:1}:n", "1")
        .incr("{u:1}:n")
        .hset("{u:1}:h", { f: "v" })
        .hgetall("{u:1}:h")
        .get("{u:1}:n")
        .ping()
        .exec();
      expect(results).toEqual([
        [null, "OK"],
        [null, 2],
        [null, 1],
        [null, { f: "v" }],
        [null, "2"],
        [null, "PONG"],
      ]);
      const owner = Number(client.shardOf("{u:1}:n").slice(1));
      expect(await fleet.raw(owner).get("{u:1}:n")).toBe("2");
    });

    it("sends the whole block in one write, so other commands cannot land inside it", async () => {
      const owner = Number(client.shardOf("{u:2}:n").slice(1));
      const before = await readsProcessed(() => fleet.raw(owner).info("stats"));
      const others = Array.from({ length: 50 }, (_, i) => client.set(`{u:2}:other:${i}`, "x"));
      const block = client.multi().set("{u:2}:n", "1").incr("{u:2}:n").exec();
      const more = Array.from({ length: 50 }, (_, i) => client.get(`{u:2}:other:${i}`));
      expect(await block).toEqual([
        [null, "OK"],
        [null, 2],
      ]);
      expect((await Promise.all(others)).every((r) => r === "OK")).toBe(true);
      expect((await Promise.all(more)).every((r) => r === "x")).toBe(true);
      expect((await readsProcessed(() => fleet.raw(owner).info("stats"))) - before).toBe(2);
    });

    it("refuses keys on several shards before sending anything", async () => {
      const [x, y] = [keyOn(client, "s0"), keyOn(client, "s1")];
      const error = await client.multi().set(x, "1").set(y, "2").exec().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CrossShardError);
      expect((error as CrossShardError).shards).toEqual(["s0", "s1"]);
      expect(await client.exists(x, y)).toBe(0);
      await expect(client.multi().mset(x, "1", y, "2").exec()).rejects.toBeInstanceOf(CrossShardError);
    });

    it("needs a key to pick a shard; client.shard(name).multi() names it", async () => {
      await expect(client.multi().ping().exec()).rejects.toBeInstanceOf(KeylessCommandError);
      expect(await client.shard("s1").multi().ping().dbsize().exec()).toEqual([
        [null, "PONG"],
        [null, 0],
      ]);
    });

    it("rejects EXECABORT with the queued command's error, and refuses nesting", async () => {
      const error = (await client.multi().set("{u:3}:a", "1").call("SET", "{u:3}:b").exec().catch((e: unknown) => e)) as Error & {
        previousErrors: Error[];
      };
      expect(error).toBeInstanceOf(ReplyError);
      expect(error.message).toMatch(/^EXECABORT/);
      expect(error.previousErrors[0]!.message).toMatch(/wrong number of arguments/);
      expect(await client.exists("{u:3}:a")).toBe(0);
      await expect(client.multi().set("{u:3}:a", "1").watch("{u:3}:a").exec()).rejects.toBeInstanceOf(UnsupportedCommandError);
    });

    it("refuses a second exec and returns [] when empty", async () => {
      expect(await client.multi().exec()).toEqual([]);
      const block = client.multi().set("{u:4}", "1");
      await block.exec();
      await expect(block.exec()).rejects.toBeInstanceOf(AlreadyExecutedError);
    });
  });

  it("runs the array form, multi([[name, ...args]]), as one block on one shard", async () => {
    const results = await client.multi([["set", "{u:7}:n", "1"], ["INCRBY", "{u:7}:n", "4"], ["get", "{u:7}:n"]]).exec();
    expect(results).toEqual([
      [null, "OK"],
      [null, 5],
      [null, "5"],
    ]);
    expect(await client.get("{u:7}:n")).toBe("5");
    await expect(client.multi([["set", "{u:7}:n", "1"], ["set", "{u:8}:n", "1"]]).exec()).rejects.toThrow(CrossShardError);
    expect(await client.get("{u:7}:n")).toBe("5");
  });

  describe("withConnection", () => {
    it("runs an optimistic WATCH/MULTI/EXEC on a dedicated connection", async () => {
      await client.set("{acct:1}:balance", "100");
      const result = await client.withConnection("{acct:1}:balance", async (conn) => {
        expect(conn.shard).toBe(client.shardOf("{acct:1}:balance"));
        await conn.watch("{acct:1}:balance");
        const balance = Number(await conn.get("{acct:1}:balance"));
        return conn.multi().set("{acct:1}:balance", String(balance - 30)).rpush("{acct:1}:log", "-30").exec();
      });
      expect(result).toEqual([
        [null, "OK"],
        [null, 1],
      ]);
      expect(await client.get("{acct:1}:balance")).toBe("70");
    });

    it("returns null from exec when a watched key changed, as Redis decides", async () => {
      await client.set("{acct:2}:balance", "100");
      const result = await client.withConnection({ key: "{acct:2}:balance" }, async (conn) => {
        await conn.watch("{acct:2}:balance");
        await client.incrby("{acct:2}:balance", 5); // someone else writes in between
        return conn.multi().set("{acct:2}:balance", "0").exec();
      });
      expect(result).toBeNull();
      expect(await client.get("{acct:2}:balance")).toBe("105");
    });

    it("refuses WATCH (and any command) on keys of another shard", async () => {
      const mine = keyOn(client, "s0");
      const theirs = keyOn(client, "s2");
      const error = await client.withConnection("s0", (conn) => conn.watch(mine, theirs)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CrossShardError);
      expect((error as CrossShardError).shards).toEqual(["s0", "s2"]);
      await expect(client.withConnection({ shard: "s0" }, (conn) => conn.get(theirs))).rejects.toBeInstanceOf(CrossShardError);
      await expect(client.withConnection("s0", (conn) => conn.multi().set(theirs, "1").exec())).rejects.toBeInstanceOf(
        CrossShardError,
      );
      expect(await client.withConnection("s0", (conn) => conn.ping())).toBe("PONG");
    });

    it("always returns the connection, also when the callback throws, with its WATCH cleared", async () => {
      await client.set("{acct:3}", "1");
      await expect(
        client.withConnection("{acct:3}", async (conn) => {
          await conn.watch("{acct:3}");
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      // The pool holds at most 2 connections; a leaked one would make these hang or fail.
      for (let i = 0; i < 5; i++) {
        const result = await client.withConnection("{acct:3}", async (conn) => {
          await client.set("{acct:3}", String(i)); // would abort EXEC if the old WATCH survived
          return conn.multi().get("{acct:3}").exec();
        });
        expect(result).toEqual([[null, String(i)]]);
      }
    });

    it("refuses use of the connection after the callback", async () => {
      let leaked: { get(key: string): Promise<unknown> } | undefined;
      await client.withConnection("s1", async (conn) => {
        leaked = conn;
      });
      await expect(leaked!.get("k")).rejects.toBeInstanceOf(ConnectionReleasedError);
      await expect(client.withConnection("s1", (conn) => conn.call("EXEC"))).rejects.toBeInstanceOf(UnsupportedCommandError);
    });

    it("rejects with PoolExhaustedError when every dedicated connection stays busy", async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const holders = [0, 1].map(() => client.withConnection("s2", () => held));
      await eventually(async () => expect(client.stats().nodes.find((n) => n.shard === "s2")!.pool?.inUse).toBe(2));
      const error = await client.withConnection("s2", (conn) => conn.ping()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PoolExhaustedError);
      expect((error as PoolExhaustedError).code).toBe("ERR_SHARDIS_POOL_EXHAUSTED");
      expect((error as Error).message).toMatch(/shard s2 .*all 2 dedicated connections busy/);
      release();
      await Promise.all(holders);
      expect(await client.withConnection("s2", (conn) => conn.ping())).toBe("PONG");
    });
  });
});
