/**
 * Shapes ioredis's own functional tests (scripts/ioredis-suite.mjs) found
 * different on a one-shard ShardedClient, each run here on a real ioredis
 * client and on the ShardedClient against the same server and compared: a
 * failed pipeline or transaction entry is `[error]` alone, pipeline.options
 * is the client's options (with ioredis's connection options at the top, as
 * ioredis has them), a Buffer command queued in a transaction answers
 * "QUEUED" as a Buffer, quitBuffer() works, quit's callback comes before
 * "end", and HELLO without arguments (which changes nothing) is answered.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { ShardedClient } from "../../lib/index.js";
import { startRedis, type RedisServer } from "../support/redis.js";
import { watchUnhandled } from "../support/fleet.js";
import type { Loose } from "../support/matrixCases.js";

describe("shapes ioredis's functional suite checks", () => {
  let server: RedisServer;
  const unhandled = watchUnhandled();
  const opened: Array<{ disconnect(): unknown }> = [];

  beforeAll(async () => {
    server = await startRedis();
  });
  beforeEach(async () => {
    await server.client().flushall();
  });
  afterAll(async () => {
    for (const client of opened) client.disconnect();
    unhandled.stop();
    await server?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  /** A real ioredis client and a one-shard ShardedClient with the same connection options. */
  function both(redis: Record<string, unknown> = {}): { ioredis: Loose; shardis: ShardedClient } {
    const ioredis = new Redis(server.port, server.host, redis);
    const shardis = new ShardedClient({ shards: [{ name: "s0", master: server.address }], redis });
    opened.push(ioredis, shardis);
    return { ioredis, shardis };
  }

  it("a failed pipeline entry is [error] alone, as in ioredis", async () => {
    const { ioredis, shardis } = both();
    for (const client of [ioredis, shardis] as const) {
      const results = (await (client as Loose).pipeline().set("k", "v").set("k").exec())!;
      expect(results[0]).toEqual([null, "OK"]);
      expect(results[1]).toHaveLength(1);
      expect(String(results[1]![0])).toMatch(/wrong number of arguments/);
    }
  });

  it("a failed transaction entry is [error] alone, as in ioredis", async () => {
    const { ioredis, shardis } = both();
    for (const client of [ioredis, shardis] as const) {
      const results = (await (client as Loose).multi().set("k", "v").lpush("k", "x").exec())!;
      expect(results[0]).toEqual([null, "OK"]);
      expect(results[1]).toHaveLength(1);
      expect(String(results[1]![0])).toMatch(/WRONGTYPE/);
    }
  });

  it("pipeline.options is the client's, with ioredis's connection options at the top", () => {
    const { ioredis, shardis } = both({ showFriendlyErrorStack: true, keyPrefix: "p:", connectTimeout: 5000 });
    for (const client of [ioredis, shardis] as const) {
      const options = (client as Loose).pipeline().options as Record<string, unknown>;
      expect(options).toMatchObject({ showFriendlyErrorStack: true, keyPrefix: "p:", connectTimeout: 5000 });
    }
    expect(shardis.pipeline().options).toBe(shardis.options);
  });

  it("a Buffer command queued in a transaction answers QUEUED as a Buffer", async () => {
    const { ioredis, shardis } = both();
    for (const client of [ioredis, shardis] as const) {
      const queued: unknown[] = [];
      await (client as Loose).del("h");
      const results = (await (client as Loose)
        .pipeline()
        .hset("h", "a", "1")
        .multi()
        .typeBuffer("h")
        .hgetall("h")
        .exec()
        .exec())!;
      expect(results.map(([, value]: [unknown, unknown]) => value)).toEqual([1, "OK", Buffer.from("QUEUED"), "QUEUED", [Buffer.from("hash"), { a: "1" }]]);
      await (client as Loose)
        .multi()
        .getBuffer("h", (_error: unknown, value: unknown) => queued.push(value))
        .get("h", (_error: unknown, value: unknown) => queued.push(value))
        .exec()
        .catch(() => undefined);
      expect(queued).toEqual([Buffer.from("QUEUED"), "QUEUED"]);
    }
  });

  it("quitBuffer() resolves OK as a Buffer", async () => {
    const { ioredis, shardis } = both();
    for (const client of [ioredis, shardis] as const) {
      await (client as Loose).ping();
      expect(await (client as Loose).quitBuffer()).toEqual(Buffer.from("OK"));
    }
  });

  it("quit's callback comes before the end event, as in ioredis", async () => {
    const { ioredis, shardis } = both();
    for (const client of [ioredis, shardis] as const) {
      await (client as Loose).subscribe("news");
      const order: string[] = [];
      const ended = new Promise<void>((resolve) => (client as Loose).once("end", () => (order.push("end"), resolve())));
      (client as Loose).quit(() => order.push("callback"));
      await ended;
      expect(order).toEqual(["callback", "end"]);
    }
  });

  it("HELLO without arguments answers as on ioredis, in each protocol and reply mapping; HELLO that would switch is refused", async () => {
    const configs = [{ protocol: 2 }, { protocol: 3 }, { protocol: 3, replyMapping: "resp3" }];
    for (const config of configs) {
      const { ioredis, shardis } = both(config);
      const shape = async (client: Loose) => {
        const reply = await client.hello();
        const fields = Array.isArray(reply) ? Object.fromEntries(Array.from({ length: reply.length / 2 }, (_, i) => [reply[2 * i], reply[2 * i + 1]])) : reply;
        return { array: Array.isArray(reply), server: fields.server, proto: fields.proto, id: typeof fields.id };
      };
      expect(await shape(shardis)).toEqual(await shape(ioredis));
      expect(await shape(shardis)).toMatchObject({ server: "redis", proto: config.protocol, id: "number" });
    }
    const { shardis } = both();
    await expect((shardis as Loose).hello(3)).rejects.toThrow(/HELLO is not supported/);
  });
});

