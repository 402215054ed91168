/**
 * The parts of ioredis's surface that libraries use, on a 3-shard client
 * against real servers: lifecycle and events, identity, sendCommand, SCAN
 * in cursor form, keyed scan streams, broadcasts and their reply rules,
 * scripts everywhere, handler-less pub/sub with binary payloads,
 * multi({ pipeline: false }), and explain().
 */
import { once } from "node:events";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Command, Redis } from "ioredis";
import {
  ClientClosedError,
  ConfigError,
  CrossShardError,
  InvalidArgumentError,
  KeylessCommandError,
  PartialFailureError,
  ShardedClient,
  UnsupportedCommandError,
} from "../../lib/index.js";
import { startFleet, type Fleet } from "../support/fleet.js";
import { eventually, keyOn, keysOn, READY_MS } from "../support/keys.js";

describe("the ioredis surface of a sharded client", () => {
  let fleet: Fleet;
  let client: ShardedClient;

  beforeAll(async () => {
    fleet = await startFleet(3);
    client = fleet.client();
    await client.ready();
  });
  afterAll(async () => fleet?.stop());
  beforeEach(async () => fleet.flushAll());

  describe("lifecycle", () => {
    it("goes wait -> connecting -> ready -> end with ioredis's events, and refuses commands after", async () => {
      const lazy = fleet.client({ lazyConnect: true });
      const events: string[] = [];
      for (const event of ["connect", "ready", "close", "end"] as const) lazy.on(event, () => events.push(event));
      expect(lazy.status).toBe("wait");
      const connecting = lazy.connect();
      expect(lazy.status).toBe("connecting");
      await connecting;
      expect(lazy.status).toBe("ready");
      expect(events).toEqual(["connect", "ready"]);
      await lazy.quit();
      expect(lazy.status).toBe("end");
      // As ioredis: "end" follows what waited on quit().
      await eventually(async () => expect(events).toEqual(["connect", "ready", "close", "end"]));
      await expect(lazy.get("k")).rejects.toBeInstanceOf(ClientClosedError);
      // As ioredis: connect() opens a closed client again.
      await lazy.connect();
      expect(await lazy.ping()).toBe("PONG");
      await lazy.quit();
    });

    it("reports reconnecting only when no master is reachable, and ready again when one is back", async () => {
      const own = await startFleet(2);
      try {
        const c = own.client();
        await c.ready();
        const events: string[] = [];
        for (const event of ["ready", "close", "reconnecting"] as const) c.on(event, () => events.push(event));
        await own.servers[0]!.halt();
        expect(c.status).toBe("ready");
        await own.servers[1]!.halt();
        await eventually(async () => expect(c.status).toBe("reconnecting"));
        await own.servers[1]!.restart();
        await eventually(async () => expect(c.status).toBe("ready"), 10_000);
        // close and reconnecting again for each failed attempt to reconnect meanwhile, as ioredis.
        expect(` ${events.join(" ")}`.replace(/( close reconnecting)+/g, "$1").trim()).toBe("close reconnecting ready");
      } finally {
        await own.stop();
      }
    });

    it("disconnect() ends the client at once; errors reach an 'error' listener only when there is one", async () => {
      const other = fleet.client();
      await other.ready();
      const ended = once(other, "end");
      other.disconnect();
      expect(other.status).toBe("end");
      await ended;
    });

    it("duplicate() makes an independent client with the same options, taking ioredis connection options", async () => {
      const dup = client.duplicate({ connectionName: "dup-conn", maxRetriesPerRequest: null });
      try {
        await dup.ready();
        await dup.set("dup:key", "1");
        expect(await client.get("dup:key")).toBe("1");
        const names = await fleet.raw(Number(client.shardOf("dup:key").slice(1))).client("LIST");
        expect(String(names)).toContain("name=dup-conn");
      } finally {
        await dup.quit();
      }
      expect(client.status).toBe("ready");
      expect(() => client.duplicate({ sentinels: 3 } as never)).toThrow(ConfigError);
      expect(() => client.duplicate({ host: "elsewhere" })).toThrow(/'host' is neither a shardis option nor a connection option/);
    });

    it("shows options as ioredis does, with keyPrefix \"\" and no password", () => {
      const secret = fleet.client({ redis: { password: "", connectTimeout: 500 }, lazyConnect: true });
      expect(client.options.keyPrefix).toBe("");
      expect(client.options.maxRetriesPerRequest).toBeNull();
      expect(client.options.shards).toEqual(fleet.shards);
      expect(secret.options.redis).toEqual({ connectTimeout: 500 });
      expect(JSON.stringify(secret)).not.toContain("password");
    });
  });

  describe("identity and sendCommand", () => {
    it("is an instance of ioredis's Redis, and ioredis internals fail with a clear error", () => {
      expect(client).toBeInstanceOf(Redis);
      expect(client.constructor).toBe(ShardedClient);
      expect(() => (client as unknown as { setStatus(): void }).setStatus()).toThrow(UnsupportedCommandError);
      expect(() => (client as unknown as { flushQueue(): void }).flushQueue()).toThrow(/single-connection internals/);
      expect((client as unknown as { mode: string }).mode).toBe("normal");
    });

    it("routes sendCommand(new Command(...)) and settles that Command with ioredis's own reply transform", async () => {
      const key = keyOn(client, "s2");
      await client.sendCommand(new Command("hset", [key, "f", "v", "g", "w"]));
      const all = new Command("hgetall", [key], { replyEncoding: "utf8" });
      await expect(client.sendCommand(all)).resolves.toEqual({ f: "v", g: "w" });
      await expect(all.promise).resolves.toEqual({ f: "v", g: "w" });
      const raw = await client.sendCommand(new Command("GET", ["missing"]));
      expect(raw).toBeNull();
      const across = new Command("mget", [keyOn(client, "s0"), keyOn(client, "s1")], { replyEncoding: "utf8" });
      await expect(client.sendCommand(across)).resolves.toEqual([null, null]);
      await expect(client.sendCommand(new Command("keys", ["*"]))).rejects.toBeInstanceOf(KeylessCommandError);
    });
  });

  describe("scans", () => {
    it("scan(cursor) visits every shard once in a caller's loop, the cursor carrying the shard", async () => {
      const written = ["s0", "s1", "s2"].flatMap((s) => keysOn(client, s, 30, "scan"));
      await client.mset(Object.fromEntries(written.map((k) => [k, "1"])));
      const seen: string[] = [];
      let cursor = "0";
      let calls = 0;
      do {
        const [next, keys] = await client.scan(cursor, "MATCH", "scan:*", "COUNT", 10);
        seen.push(...keys);
        cursor = next;
        calls++;
      } while (cursor !== "0" && calls < 1000);
      expect(new Set(seen)).toEqual(new Set(written));
      expect(calls).toBeGreaterThanOrEqual(3);
      await expect(client.scan("not-a-cursor")).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it("streams SSCAN, HSCAN and ZSCAN of one key from its shard", async () => {
      const key = keyOn(client, "s1", "coll");
      const members = Array.from({ length: 50 }, (_, i) => `m${i}`);
      await client.sadd(`${key}:set`, ...members);
      await client.hset(`${key}:hash`, Object.fromEntries(members.map((m) => [m, `v${m}`])));
      await client.zadd(`${key}:zset`, ...members.flatMap((m, i) => [i, m]));
      const read = async (stream: NodeJS.ReadableStream) => {
        const items: string[] = [];
        for await (const batch of stream) items.push(...(batch as unknown as string[]));
        return items;
      };
      expect(new Set(await read(client.sscanStream(`${key}:set`, { count: 7 })))).toEqual(new Set(members));
      const hash = await read(client.hscanStream(`${key}:hash`, { match: "m1*" }));
      expect(hash.length).toBe(22);
      expect(hash.slice(0, 2)).toEqual([hash[0], `v${hash[0]}`]);
      const zset = await read(client.zscanStream(`${key}:zset`));
      expect(zset.length).toBe(100);
      expect(() => client.hscanStream(`${key}:hash`, { dedupe: true })).toThrow(InvalidArgumentError);
    });
  });

  describe("broadcasts", () => {
    it("answers PING from every shard, and names the shards that are down", async () => {
      expect(await client.ping()).toBe("PONG");
      expect(await client.ping("hello")).toBe("hello");
      const own = await startFleet(3);
      try {
        const c = own.client({ commandTimeoutMs: 300 });
        await c.ready(READY_MS);
        await own.servers[1]!.halt();
        const error = await c.ping().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(PartialFailureError);
        expect((error as PartialFailureError).failures.map((f) => f.shard)).toEqual(["s1"]);
        expect((error as PartialFailureError).succeeded).toEqual(["s0", "s2"]);
      } finally {
        await own.stop();
      }
    });

    it("loads, checks and flushes scripts on every shard, so EVALSHA works wherever the key lives", async () => {
      const sha = (await client.script("LOAD", "return 'hi'")) as string;
      expect(sha).toMatch(/^[0-9a-f]{40}$/);
      for (const shard of ["s0", "s1", "s2"]) expect(await client.evalsha(sha, 1, keyOn(client, shard))).toBe("hi");
      expect(await client.script("EXISTS", sha, "0".repeat(40))).toEqual([1, 0]);
      await fleet.raw(2).script("FLUSH");
      expect(await client.script("EXISTS", sha)).toEqual([0]);
      expect(await client.script("FLUSH")).toBe("OK");
    });

    it("answers INFO with every shard's text under a '# Shard' line, DBSIZE summed, PUBSUB NUMSUB summed per channel", async () => {
      const info = (await client.call("INFO", "server")) as string;
      expect(info.match(/^# Shard s\d$/gm)).toEqual(["# Shard s0", "# Shard s1", "# Shard s2"]);
      expect(info.match(/redis_version:/g)).toHaveLength(3);
      await client.mset(Object.fromEntries(["s0", "s1", "s2"].flatMap((s) => keysOn(client, s, 4, "size")).map((k) => [k, "1"])));
      expect(await client.dbsize()).toBe(12);
      await client.subscribe("numsub-a");
      try {
        expect(await client.pubsub("NUMSUB", "numsub-a", "numsub-b")).toEqual(["numsub-a", 1, "numsub-b", 0]);
      } finally {
        await client.unsubscribe("numsub-a");
      }
    });
  });

  describe("scripts", () => {
    it("are methods of scopes, handles and pipelines too, also under names that are not identifiers", async () => {
      const scope = client.with({ timeoutMs: 500 });
      client.defineCommand("incrTwice:1.0", { numberOfKeys: 1, lua: "redis.call('INCR', KEYS[1]); return redis.call('INCR', KEYS[1])" });
      const key = keyOn(client, "s0", "script");
      const call = (target: object, ...args: unknown[]) => (target as Record<string, (...a: unknown[]) => Promise<unknown>>)["incrTwice:1.0"]!(...args);
      expect(await call(client, key)).toBe(2);
      expect(await call(scope, key)).toBe(4);
      expect(await call(client, [key])).toBe(6); // BullMQ passes keys and args as one array
      const piped = client.pipeline() as unknown as Record<string, (...a: unknown[]) => unknown> & { exec(): Promise<unknown> };
      piped["incrTwice:1.0"]!(key);
      expect(await piped.exec()).toEqual([[null, 8]]);
    });

    it("runs a script without keys on the shard its definition names, and refuses one without a shard", async () => {
      client.defineCommand("whereAmI", { numberOfKeys: 0, lua: "return redis.call('INFO', 'server'):match('tcp_port:(%d+)')", shard: "s1" });
      client.defineCommand("nowhere", { numberOfKeys: 0, lua: "return 1" });
      const port = (await (client as unknown as { whereAmI(): Promise<string> }).whereAmI()) as string;
      expect(`127.0.0.1:${port}`).toBe(fleet.shards[1]!.master);
      const refused = await (client as unknown as { nowhere(): Promise<unknown> }).nowhere().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(KeylessCommandError);
      expect((refused as Error).message).toContain("define it with { shard: name }");
      expect(await (client.shard("s2") as unknown as { nowhere(): Promise<number> }).nowhere()).toBe(1);
      expect(() => client.defineCommand("bad", { lua: "return 1", shard: "s9" })).toThrow(InvalidArgumentError);
    });
  });

  describe("pub/sub without handlers", () => {
    it("emits message and messageBuffer for channels on every shard, binary payloads intact", async () => {
      const channels = ["s0", "s1", "s2"].map((s) => keyOn(client, s, "chan"));
      expect(await client.subscribe(...channels)).toBe(3);
      const got: Array<[string, Buffer]> = [];
      const texts: string[] = [];
      const onBuffer = (channel: Buffer, message: Buffer) => got.push([channel.toString(), message]);
      const onText = (channel: string) => texts.push(channel);
      client.on("messageBuffer", onBuffer);
      client.on("message", onText);
      try {
        const payload = Buffer.from([0, 255, 1, 254, 0x80]);
        for (const channel of channels) expect(await client.publish(channel, payload)).toBe(1);
        await eventually(async () => expect(got).toHaveLength(3));
        expect(got.map(([c]) => c).sort()).toEqual([...channels].sort());
        for (const [, message] of got) expect(message.equals(payload)).toBe(true);
        expect(texts.sort()).toEqual([...channels].sort());
      } finally {
        client.off("messageBuffer", onBuffer);
        client.off("message", onText);
        expect(await client.unsubscribe()).toBe(0);
      }
    });

    it("emits pmessage for patterns, and rejects a bad channel", async () => {
      expect(await client.psubscribe("pat:*")).toBe(1);
      const got: string[] = [];
      const on = (pattern: string, channel: string, message: string) => got.push(`${pattern} ${channel} ${message}`);
      client.on("pmessage", on);
      try {
        await client.publish(keyOn(client, "s2", "pat"), "x");
        await eventually(async () => expect(got).toEqual([`pat:* ${keyOn(client, "s2", "pat")} x`]));
      } finally {
        client.off("pmessage", on);
        await client.punsubscribe();
      }
      await expect(client.subscribe(42 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    });
  });

  describe("transactions", () => {
    it("runs multi({ pipeline: false }) on a dedicated connection, and refuses it on the shared client", async () => {
      expect(() => client.multi({ pipeline: false } as never)).toThrow(UnsupportedCommandError);
      const results = await client.withConnection("{tx}", async (conn) => {
        expect(await conn.multi({ pipeline: false })).toBe("OK");
        expect(await conn.set("{tx}:a", "1")).toBe("QUEUED");
        expect(await conn.hset("{tx}:h", { f: "v" })).toBe("QUEUED");
        await conn.hgetall("{tx}:h");
        return conn.exec();
      });
      expect(results).toEqual([[null, "OK"], [null, 1], [null, { f: "v" }]]);
      // A block left open is discarded when the connection goes back.
      await client.withConnection("{tx}", async (conn) => {
        await conn.multi({ pipeline: false });
        await conn.set("{tx}:b", "1");
      });
      expect(await client.exists("{tx}:b")).toBe(0);
    });
  });

  describe("explain", () => {
    it("shows where a command would go without sending it, keys but never values", () => {
      const [a, b] = [keyOn(client, "s0"), keyOn(client, "s2")];
      expect(client.explain("GET", a)).toEqual({ command: "get", kind: "single", parts: [{ shard: "s0", args: null }], reply: "as is" });
      expect(client.explain("mset", a, "1", b, "2")).toEqual({
        command: "mset",
        kind: "split",
        parts: [
          { shard: "s0", args: [a, "[redacted]"] },
          { shard: "s2", args: [b, "[redacted]"] },
        ],
        reply: "allOk",
      });
      expect(client.explain("del", a, b).parts.map((p) => p.args)).toEqual([[a], [b]]);
      expect(client.explain("script", "load", "return 1")).toMatchObject({ kind: "broadcast", reply: "same" });
      expect(() => client.explain("rename", a, b)).toThrow(CrossShardError);
      expect(() => client.explain("select", 1)).toThrow(UnsupportedCommandError);
    });
  });
});
