/**
 * Pub/sub as ioredis's own functional tests check it, each run on a real
 * ioredis client and on a one-shard ShardedClient against the same server:
 * a client opened again (disconnect(true), connect() after quit() or
 * disconnect()) keeps its subscriptions (ioredis's autoResubscribe), and the
 * count a subscribe call resolves when two calls overlap is the server's
 * for that call's last channel.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { ShardedClient } from "../../lib/index.js";
import { startRedis, type RedisServer } from "../support/redis.js";
import { watchUnhandled } from "../support/fleet.js";
import { eventually } from "../support/keys.js";
import type { Loose } from "../support/matrixCases.js";

describe("ioredis's pub/sub across a reopen, and overlapping subscribe counts", () => {
  let server: RedisServer;
  let pub: Redis;
  const unhandled = watchUnhandled();
  const opened: Array<{ disconnect(): unknown }> = [];

  beforeAll(async () => {
    server = await startRedis();
    pub = server.client();
  });
  beforeEach(async () => {
    await pub.flushall();
  });
  afterAll(async () => {
    for (const client of opened) client.disconnect();
    unhandled.stop();
    await server?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  function both(): Array<[string, Loose]> {
    const ioredis = new Redis(server.port, server.host);
    const shardis = new ShardedClient({ shards: [{ name: "s0", master: server.address }] });
    opened.push(ioredis, shardis);
    return [["ioredis", ioredis], ["shardis", shardis]];
  }

  /** Subscribes channels, a pattern and a sharded channel, reopens, and returns what is heard afterwards. */
  async function heardAfter(client: Loose, reopen: (client: Loose) => Promise<unknown>): Promise<string[]> {
    await client.subscribe("a", "b");
    await client.psubscribe("p?");
    await client.ssubscribe("s");
    const heard = new Set<string>();
    client.on("message", (channel: string, message: string) => heard.add(`message ${channel} ${message}`));
    client.on("pmessage", (pattern: string, channel: string, message: string) => heard.add(`pmessage ${pattern} ${channel} ${message}`));
    client.on("smessage", (channel: string, message: string) => heard.add(`smessage ${channel} ${message}`));
    await reopen(client);
    // Bounded: eventually's 5 s. Published again until heard (ioredis's resubscription, like shardis's, is not awaited).
    await eventually(async () => {
      await Promise.all([pub.publish("a", "x"), pub.publish("b", "x"), pub.publish("p1", "x"), pub.spublish("s", "x")]);
      expect(heard.size).toBe(4);
    });
    return [...heard].sort();
  }

  const reopens: Record<string, (client: Loose) => Promise<unknown>> = {
    "disconnect(true)": (client) => {
      const ready = new Promise((resolve) => client.once("ready", resolve));
      client.disconnect(true);
      return ready;
    },
    "quit() then connect()": async (client) => {
      const ended = new Promise((resolve) => client.once("end", resolve));
      await client.quit();
      await ended; // ioredis refuses connect() until its socket closed
      await client.connect();
    },
    "disconnect() then connect()": async (client) => {
      const ended = new Promise((resolve) => client.once("end", resolve));
      client.disconnect();
      await ended;
      await client.connect();
    },
  };

  for (const [name, reopen] of Object.entries(reopens)) {
    it(`subscriptions, patterns and sharded channels carry over ${name}, as ioredis resubscribes`, async () => {
      const outcomes: Record<string, string[]> = {};
      for (const [kind, client] of both()) outcomes[kind] = await heardAfter(client, reopen);
      expect(outcomes.shardis).toEqual(outcomes.ioredis);
      expect(outcomes.ioredis).toEqual(["message a x", "message b x", "pmessage p? p1 x", "smessage s x"]);
    });
  }

  it("handler-form subscriptions carry over too, and are active again", async () => {
    const client = new ShardedClient({ shards: [{ name: "s0", master: server.address }] });
    opened.push(client);
    const heard = new Set<string>();
    await client.subscribe("h", { handler: (message, channel) => heard.add(`${channel} ${message}`) });
    await client.psubscribe("q?", { handler: (message, channel, pattern) => heard.add(`${pattern} ${channel} ${message}`) });
    await client.ssubscribe("t", { handler: (message, channel) => heard.add(`s ${channel} ${message}`) });
    await reopens["disconnect(true)"]!(client);
    await eventually(async () => {
      await Promise.all([pub.publish("h", "x"), pub.publish("q1", "x"), pub.spublish("t", "x")]);
      expect([...heard].sort()).toEqual(["h x", "q? q1 x", "s t x"]);
    });
    await eventually(async () => expect(client.subscriptions().map((s) => s.state)).toEqual(["active", "active", "active"]));
  });

  it("two overlapping subscribe calls each get the server's count for their last channel, as in ioredis", async () => {
    for (const command of ["subscribe", "ssubscribe"] as const) {
      const outcomes: Record<string, unknown[]> = {};
      for (const [kind, client] of both()) {
        const counts = await Promise.all([
          new Promise((resolve) => client[command]("foo", "bar", (_error: unknown, count: number) => resolve(count))),
          new Promise((resolve) => client[command]("foo", "zoo", (_error: unknown, count: number) => resolve(count))),
          client[command]("bar"),
        ]);
        outcomes[kind] = counts;
      }
      expect(outcomes.shardis).toEqual(outcomes.ioredis);
      expect(outcomes.ioredis).toEqual([2, 3, 3]);
    }
  });
});
