import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChainableCommander } from "ioredis";
import { ConfigError, CrossShardError, InvalidArgumentError, KeylessCommandError, ShardedClient } from "../../lib/index.js";
import { startFleet, type Fleet } from "../support/fleet.js";
import { eventually, keyOn } from "../support/keys.js";

/** The methods defineCommand adds, as a TypeScript user would declare them. */
interface WithScripts {
  swap(key: string, value: string): Promise<string | null>;
  swapBuffer(key: string, value: string): Promise<Buffer | null>;
  sumKeys(numKeys: number, ...keys: string[]): Promise<number>;
  version(): Promise<string>;
}

/** Pipelines and transactions get the script too (declared by merging into ioredis's ChainableCommander in a real app). */
type WithSwap = ChainableCommander & { swap(key: string, value: string): ChainableCommander };

const SWAP = "local old = redis.call('GET', KEYS[1]); redis.call('SET', KEYS[1], ARGV[1]); return old";
const SUM = "local s = 0; for i, k in ipairs(KEYS) do s = s + tonumber(redis.call('GET', k) or '0') end; return s";

describe("scripts", () => {
  let fleet: Fleet;
  let client: ShardedClient & WithScripts;

  beforeAll(async () => {
    fleet = await startFleet(3);
    client = fleet.client() as ShardedClient & WithScripts;
    client.defineCommand("swap", { lua: SWAP, numberOfKeys: 1 });
    client.defineCommand("sumKeys", { lua: SUM });
    client.defineCommand("version", { lua: "return redis.REDIS_VERSION", numberOfKeys: 0 });
  });
  afterAll(async () => fleet?.stop());

  it("adds methods that run on the shard of their keys", async () => {
    const key = keyOn(client, "s1", "script");
    expect(await client.swap(key, "a")).toBeNull();
    expect(await client.swap(key, "b")).toBe("a");
    expect(await client.swapBuffer(key, "c")).toEqual(Buffer.from("b"));
    expect(await fleet.raw(1).get(key)).toBe("c");
    await client.mset("{sum}:1", "2", "{sum}:2", "40");
    expect(await client.sumKeys(2, "{sum}:1", "{sum}:2")).toBe(42);
  });

  it("refuses keys on several shards before running anything", async () => {
    const [x, y] = [keyOn(client, "s0", "sx"), keyOn(client, "s2", "sy")];
    await expect(client.sumKeys(2, x, y)).rejects.toBeInstanceOf(CrossShardError);
    await expect(client.version()).rejects.toBeInstanceOf(KeylessCommandError);
    expect(await (client.shard("s0") as unknown as WithScripts).version()).toMatch(/^7\./);
  });

  it("keeps working after SCRIPT FLUSH and after the node restarts", async () => {
    const key = keyOn(client, "s2", "survive");
    await client.swap(key, "1"); // cached on s2 now, sent as EVALSHA from here on
    expect(await client.swap(key, "2")).toBe("1");
    expect(await client.shard("s2").script("FLUSH")).toBe("OK");
    expect(await client.swap(key, "3")).toBe("2"); // NOSCRIPT, then EVAL
    await fleet.servers[2]!.restart();
    expect(await eventually(() => client.swap(key, "4"))).toBeNull(); // new server: no data, no scripts
    expect(await client.swap(key, "5")).toBe("4");
  });

  it("routes EVAL and EVALSHA by their keys", async () => {
    const key = keyOn(client, "s0", "ev");
    expect(await client.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, key, "v")).toBe("OK");
    const sha = (await client.shard("s0").script("LOAD", "return redis.call('GET', KEYS[1])")) as string;
    expect(await client.evalsha(sha, 1, key)).toBe("v");
  });

  it("runs in pipelines and transactions", async () => {
    const key = "{pipe}:swap";
    const piped = await (client.pipeline().set(key, "p") as WithSwap).swap(key, "q").get(key).exec();
    expect(piped).toEqual([
      [null, "OK"],
      [null, "p"],
      [null, "q"],
    ]);
    const block = await (client.multi().set(key, "m") as WithSwap).swap(key, "n").get(key).exec();
    expect(block).toEqual([
      [null, "OK"],
      [null, "m"],
      [null, "n"],
    ]);
  });

  it("runs inside multi({ pipeline: false }) with its own reply among EXEC's, also after SCRIPT FLUSH", async () => {
    const key = "{unpiped}:swap";
    const results = await client.withConnection(key, async (conn) => {
      const scripted = conn as unknown as WithScripts;
      expect(await scripted.swap(key, "a")).toBeNull(); // the connection knows the script now (EVALSHA next)
      expect(await conn.script("FLUSH")).toBe("OK");
      await conn.multi({ pipeline: false });
      expect(await scripted.swap(key, "b")).toBe("QUEUED");
      expect(await conn.incr("{unpiped}:n")).toBe("QUEUED");
      return conn.exec();
    });
    expect(results).toEqual([
      [null, "a"],
      [null, 1],
    ]);
  });

  it("refuses names the client or the objects it hands out already use with ConfigError, leaving them as they were", async () => {
    // then: the client would become a thenable (await client would hang); release, exec: a dedicated connection's and a pipeline's own.
    // A plain command's name (get, echo) may be taken, as in ioredis: ioredisFidelity.test.ts.
    for (const name of ["swap", "then", "catch", "release", "quit", "on", "exec", "multi", "pipeline", "constructor", "__proto__", "toJSON", "swapBuffer"]) {
      expect(() => client.defineCommand(name, { lua: "return 1", numberOfKeys: 0 }), name).toThrow(ConfigError);
    }
    expect(() => client.defineCommand("then", { lua: "return 1" })).toThrow(/"then" is already used/);
    expect((client as unknown as { then?: unknown }).then).toBeUndefined();
    expect(await client.withConnection("s0", async (conn) => typeof conn.release)).toBe("function");
    expect(await client.get("{x}:a")).toBeDefined();
  });

  it("rejects bad definitions with InvalidArgumentError", () => {
    expect(() => client.defineCommand("bad name", { lua: "return 1" })).toThrow(InvalidArgumentError);
    expect(() => client.defineCommand("noLua", { lua: "" })).toThrow(InvalidArgumentError);
    expect(() => client.defineCommand("negative", { lua: "return 1", numberOfKeys: -1 })).toThrow(InvalidArgumentError);
  });
});
