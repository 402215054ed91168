/**
 * Keyless commands (FLUSHDB, KEYS, RANDOMKEY, scripts without keys) as a
 * one-connection ioredis client runs them: a client of one shard sends them
 * to that shard, and `keyless: { shard }` chooses the shard of a larger
 * fleet; without either, a fleet refuses them (KeylessCommandError).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, KeylessCommandError, ShardedClient } from "../../lib/index.js";
import { startFleet, type Fleet } from "../support/fleet.js";
import { keyOn } from "../support/keys.js";

// The keyless commands are typed out of the client (they are refused on a fleet): call them untyped.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const untyped = (client: unknown): any => client;

describe("keyless commands", () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await startFleet(3);
  });
  afterAll(async () => fleet?.stop());
  beforeEach(async () => fleet.flushAll());

  it("go to the only shard of a one-shard client, as on one ioredis connection", async () => {
    const one = untyped(new ShardedClient({ shards: [fleet.shards[1]!] }));
    try {
      await one.set("a", "1");
      expect(await one.keys("*")).toEqual(["a"]);
      expect(await one.randomkey()).toBe("a");
      expect(await one.flushdb()).toBe("OK");
      expect(await fleet.raw(1).dbsize()).toBe(0);
      one.defineCommand("answer", { numberOfKeys: 0, lua: "return 42" });
      expect(await one.answer()).toBe(42);
      expect(await one.multi().set("b", "2").exec()).toEqual([[null, "OK"]]);
      expect(await one.multi().dbsize().exec()).toEqual([[null, 1]]);
      expect(await one.pipeline().keys("*").flushdb().exec()).toEqual([
        [null, ["b"]],
        [null, "OK"],
      ]);
      expect(one.explain("flushdb")).toMatchObject({ kind: "single", parts: [{ shard: "s1" }] });
    } finally {
      await one.quit();
    }
  });

  it("go to the shard `keyless` names on a larger fleet, and nowhere else", async () => {
    const client = untyped(fleet.client({ keyless: { shard: "s2" } }));
    for (const i of [0, 1, 2]) await fleet.raw(i).set(`k${i}`, "v");
    expect(await client.keys("*")).toEqual(["k2"]);
    expect(await client.flushdb()).toBe("OK");
    expect(await Promise.all([0, 1, 2].map((i) => fleet.raw(i).dbsize()))).toEqual([1, 1, 0]);
    // Keys still route by key.
    const key = keyOn(client, "s0", "routed");
    await client.set(key, "x");
    expect(await fleet.raw(0).get(key)).toBe("x");
  });

  it("are refused on a larger fleet without `keyless`, and a bad `keyless` is a ConfigError", async () => {
    const client = untyped(fleet.client());
    await expect(client.flushdb()).rejects.toBeInstanceOf(KeylessCommandError);
    expect(() => new ShardedClient({ shards: fleet.shards, keyless: { shard: "nope" } })).toThrow(ConfigError);
    expect(() => new ShardedClient({ shards: fleet.shards, keyless: "s0" as never })).toThrow(/keyless must be \{ shard: name \}/);
  });
});
