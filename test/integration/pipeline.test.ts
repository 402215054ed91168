import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ReplyError } from "ioredis";
import {
  AlreadyExecutedError,
  CrossShardError,
  InvalidArgumentError,
  NodeError,
  PartialFailureError,
  ShardedClient,
} from "../../lib/index.js";
import { startFleet, type Fleet } from "../support/fleet.js";
import { freePort } from "../support/processes.js";
import { keyOn, keysOn, READY_MS, readsProcessed } from "../support/keys.js";

describe("pipelines across shards", () => {
  let fleet: Fleet;
  let client: ShardedClient;
  let a: string, b: string, c: string;

  beforeAll(async () => {
    fleet = await startFleet(3);
    client = fleet.client();
    [a, b, c] = ["s0", "s1", "s2"].map((s) => keyOn(client, s)) as [string, string, string];
  });
  afterAll(async () => fleet?.stop());
  beforeEach(async () => fleet.flushAll());

  it("runs chained commands and returns [error, result] in caller order", async () => {
    const results = await client
      .pipeline()
      .set(a, "1")
      .set(b, "2")
      .incr(a)
      .get(a)
      .hset(c, { f: "v" })
      .hgetall(c)
      .call("GET", b)
      .getBuffer(b)
      .exec();
    expect(results).toEqual([
      [null, "OK"],
      [null, "OK"],
      [null, 2],
      [null, "2"],
      [null, 1],
      [null, { f: "v" }],
      [null, "2"],
      [null, Buffer.from("2")],
    ]);
  });

  it("runs every command of the array form, pipeline([[name, ...args]]), like ioredis", async () => {
    client.defineCommand("pipeDouble", { numberOfKeys: 1, lua: "return tonumber(redis.call('GET', KEYS[1])) * 2" });
    const results = await client
      .pipeline([
        ["set", a, "5"],
        ["SET", b, "6"],
        ["incr", a],
        ["getBuffer", b],
        ["mget", a, b, c],
        ["pipeDouble", a],
        ["call", "GET", a],
      ])
      .get(c)
      .exec();
    expect(results).toEqual([
      [null, "OK"],
      [null, "OK"],
      [null, 6],
      [null, Buffer.from("6")],
      [null, ["6", "6", null]],
      [null, 12],
      [null, "6"],
      [null, null],
    ]);
    // Every write reached its shard (the bug this guards against resolved [] and wrote nothing).
    expect(await fleet.raw(Number(client.shardOf(b).slice(1))).get(b)).toBe("6");
    const withOptions = await client.pipeline([["get", a]], { partial: false }).exec();
    expect(withOptions).toEqual([[null, "6"]]);
  });

  it("refuses a malformed array form before queueing anything", () => {
    expect(() => client.pipeline([["set", a, "1"], [42, "x"]] as never)).toThrow(InvalidArgumentError);
    expect(() => client.pipeline([["set", a, "1"], "get"] as never)).toThrow(/entry 1 must be \[name, \.\.\.args\]/);
  });

  it("sends each node's share of a pipeline in one write", async () => {
    const keys = ["s0", "s1", "s2"].map((s) => keysOn(client, s, 40));
    const before = await Promise.all([0, 1, 2].map((i) => readsProcessed(() => fleet.raw(i).info("stats"))));
    const pipeline = client.pipeline();
    for (let i = 0; i < 40; i++) for (const shardKeys of keys) pipeline.set(shardKeys[i]!, "v").get(shardKeys[i]!);
    const results = await pipeline.exec();
    expect(results).toHaveLength(240);
    expect(results.every(([error]) => error === null)).toBe(true);
    const after = await Promise.all([0, 1, 2].map((i) => readsProcessed(() => fleet.raw(i).info("stats"))));
    // One read for the pipeline's share, one for the INFO that measured it.
    expect(after.map((n, i) => n - before[i]!)).toEqual([2, 2, 2]);
  });

  it("splits multi-key commands inside a pipeline and refuses cross-shard ones per entry", async () => {
    await client.mset(a, "1", b, "2");
    const results = (await client.pipeline().mget(c, b, a).del(a, b, c).rename(a, b).get(c).exec())!;
    expect(results[0]).toEqual([null, [null, "2", "1"]]);
    expect(results[1]).toEqual([null, 2]);
    expect(results[2]![0]).toBeInstanceOf(CrossShardError);
    expect(results[3]).toEqual([null, null]);
  });

  it("reports the server's errors per entry", async () => {
    await client.set(a, "text");
    const results = (await client.pipeline().lpush(a, "x").get(a).exec())!;
    expect(results[0]![0]).toBeInstanceOf(ReplyError);
    expect(results[1]).toEqual([null, "text"]);
  });

  it("calls per-command callbacks", async () => {
    const seen: unknown[] = [];
    await client
      .pipeline()
      .set(a, "1", (error, value) => seen.push([error, value]))
      .get(a, (error, value) => seen.push([error, value]))
      .exec();
    expect(seen).toEqual([
      [null, "OK"],
      [null, "1"],
    ]);
  });

  it("resolves [] when empty and refuses a second exec", async () => {
    expect(await client.pipeline().exec()).toEqual([]);
    const pipeline = client.pipeline().set(a, "1");
    expect(pipeline.length).toBe(1);
    await pipeline.exec();
    await expect(pipeline.exec()).rejects.toBeInstanceOf(AlreadyExecutedError);
  });

  describe("with a shard down", () => {
    let withDead: ShardedClient;
    let dead: string;

    beforeAll(async () => {
      withDead = fleet.client({
        shards: [...fleet.shards.slice(0, 2), { name: "dead", master: `127.0.0.1:${await freePort()}` }],
        commandTimeoutMs: 200,
      });
      dead = keyOn(withDead, "dead");
      // The live shards connected first, with time to spare: the 200 ms deadline is for the dead shard's entries.
      await Promise.all(["s0", "s1"].map((shard) => withDead.with({ timeoutMs: READY_MS }).get(keyOn(withDead, shard))));
    });

    it("by default gives errors only to the failed node's entries", async () => {
      const live = keyOn(withDead, "s0");
      // Typed like ioredis (exec() of a chain may be null); a shardis pipeline never resolves null.
      const results = (await withDead.pipeline().set(live, "1").get(dead).get(live).exec())!;
      expect(results[0]).toEqual([null, "OK"]);
      // Timed out, or failed fast once the dead node's breaker opened: either way its own error.
      expect(results[1]![0]).toBeInstanceOf(NodeError);
      expect((results[1]![0] as NodeError).shard).toBe("dead");
      expect(results[2]).toEqual([null, "1"]);
    });

    it("with { partial: false } rejects the whole exec, keeping every entry's result", async () => {
      const live = keyOn(withDead, "s1");
      const error = (await withDead.pipeline({ partial: false }).set(live, "1").get(dead).exec().catch((e: unknown) => e)) as PartialFailureError;
      expect(error).toBeInstanceOf(PartialFailureError);
      expect(error.failures.map((f) => f.shard)).toEqual(["dead"]);
      expect(error.results![0]).toEqual([null, "OK"]);
      expect(error.results![1]![0]).toBeInstanceOf(NodeError);
    });

    it("MGET fails as a whole by default, or returns per-key errors with { partial: true }", async () => {
      const live = keyOn(withDead, "s0");
      await withDead.set(live, "v");
      await expect(withDead.mget(live, dead)).rejects.toBeInstanceOf(PartialFailureError);
      const values = await withDead.mget([live, dead, live], { partial: true });
      expect(values[0]).toBe("v");
      expect(values[1]).toBeInstanceOf(NodeError);
      expect(values[2]).toBe("v");
      const buffers = await withDead.mgetBuffer([dead, live], { partial: true });
      expect(buffers[0]).toBeInstanceOf(NodeError);
      expect(buffers[1]).toEqual(Buffer.from("v"));
    });
  });
});
