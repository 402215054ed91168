/**
 * Where libraries rely on ioredis's exact behaviour: each scenario runs on a
 * real ioredis client and on a ShardedClient over the same kind of server,
 * and both must answer alike (callbacks, reply shapes, events and their
 * order, the closed-client message, options libraries write to).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { ClientClosedError, ShardedClient } from "../../lib/index.js";
import { startFleet, watchUnhandled, type Fleet } from "../support/fleet.js";
import { eventually, untilBlocked } from "../support/keys.js";

type Either = Redis | ShardedClient;
/** Either client as an untyped value: the two have different TypeScript types for the same calls. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const loose = (value: unknown): any => value;

describe("ioredis fidelity", () => {
  let fleet: Fleet;
  let sharded: ShardedClient;
  let plain: Redis;
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    fleet = await startFleet(3);
    sharded = fleet.client();
    await sharded.ready();
    plain = fleet.servers[0]!.client();
  });
  afterAll(async () => {
    unhandled.stop();
    await fleet?.stop();
  });
  beforeEach(async () => fleet.flushAll());

  /** The scenario on ioredis, then on shardis; both results. */
  async function both<T>(scenario: (client: Either, name: "ioredis" | "shardis") => Promise<T>): Promise<[T, T]> {
    return [await scenario(plain, "ioredis"), await scenario(sharded, "shardis")];
  }

  function callback<T = unknown>(): { fn: (error: Error | null, value?: T) => void; done: Promise<[Error | null, T | undefined]> } {
    let fn!: (error: Error | null, value?: T) => void;
    const done = new Promise<[Error | null, T | undefined]>((resolve) => (fn = (error, value) => resolve([error, value])));
    return { fn, done };
  }

  it("send_command(name, args, callback) is call(name, ...args)", async () => {
    const [a, b] = await both(async (client) => {
      const send = (client as unknown as { send_command: (...a: unknown[]) => Promise<unknown> }).send_command.bind(client);
      const set = await send("set", ["{t}k", "v"]);
      const cb = callback();
      void send("get", ["{t}k"], cb.fn);
      return [set, await cb.done, await send("GET", "{t}k")];
    });
    expect(b).toEqual(a);
    expect(a).toEqual(["OK", [null, "v"], "v"]);
  });

  it("calls exec(callback) of a pipeline and of a multi, and gives multi's per-command callbacks QUEUED", async () => {
    const [a, b] = await both(async (client) => {
      const piped = callback();
      void loose(client).pipeline().set("{t}a", "1").get("{t}a").exec(piped.fn);
      const multi = loose(client).multi();
      const perCommand: unknown[] = [];
      multi.incr("{t}a", (error: unknown, value: unknown) => perCommand.push([error, value]));
      multi.get("{t}a", (error: unknown, value: unknown) => perCommand.push([error, value]));
      const exec = callback();
      void multi.exec(exec.fn);
      return [await piped.done, await exec.done, perCommand];
    });
    expect(b).toEqual(a);
    expect(a[2]).toEqual([
      [null, "QUEUED"],
      [null, "QUEUED"],
    ]);
  });

  it("runs pipeline().multi()...exec() inline transactions with ioredis's result shape", async () => {
    const [a, b] = await both(async (client) => {
      const inline = await loose(client).pipeline().set("{t}a", "1").multi().incr("{t}a").get("{t}a").exec().get("{t}a").exec();
      const failed = await loose(client).pipeline().set("{t}s", "x").multi().incr("{t}s").exec().exec();
      return [inline, JSON.stringify(failed)];
    });
    expect(b).toEqual(a);
    expect(a[0]).toEqual([
      [null, "OK"],
      [null, "OK"],
      [null, "QUEUED"],
      [null, "QUEUED"],
      [null, [2, "2"]],
      [null, "2"],
    ]);
  });

  it("calls quit(callback) once closed", async () => {
    const pair = [fleet.servers[0]!.client(), fleet.client()] as const;
    for (const client of pair) {
      const quit = callback();
      void (client.quit as (cb: unknown) => Promise<unknown>)(quit.fn);
      expect(await quit.done).toEqual([null, "OK"]);
    }
  });

  it("rejects commands of a closed client with ioredis's 'Connection is closed.', typed", async () => {
    const pair = [fleet.servers[0]!.client(), fleet.client()] as const;
    await Promise.all(pair.map((c) => c.ping()));
    const messages: string[] = [];
    for (const client of pair) {
      await client.quit();
      messages.push(await client.get("k").then(String, (e: Error) => e.message));
    }
    expect(messages).toEqual(["Connection is closed.", "Connection is closed."]);
    await expect(pair[1].get("k")).rejects.toBeInstanceOf(ClientClosedError);
  });

  it("fails a command in flight at disconnect() with ioredis's 'Connection is closed.', typed as a ConnectionError (it may have run)", async () => {
    const [a, b] = await both(async (_, name) => {
      const client = loose(name === "ioredis" ? fleet.servers[0]!.client() : fleet.client());
      await client.ping();
      const server = name === "ioredis" ? 0 : Number(String(client.shardOf("{t}never")).slice(1));
      const blocked = client.blpop("{t}never", 0).then(String, (e: Error) => e);
      await untilBlocked(() => fleet.raw(server).info("clients"));
      client.disconnect();
      const error = (await blocked) as Error & { code?: string };
      const after = await client.get("{t}k").then(String, (e: Error) => e.message);
      return { message: error.message, after, code: error.code };
    });
    expect(a).toEqual({ message: "Connection is closed.", after: "Connection is closed.", code: undefined });
    expect(b).toEqual({ ...a, code: "ERR_SHARDIS_CONNECTION" });
  });

  it("lets a script take a built-in command's name, as ioredis's README does with echo", async () => {
    const [a, b] = await both(async (client) => {
      const lua = "return {KEYS[1],KEYS[2],ARGV[1],ARGV[2]}";
      client.defineCommand("echo", { numberOfKeys: 2, lua });
      const echo = loose(client).echo("{t}a", "{t}b", "c", "d");
      const piped = await loose(client).pipeline().echo("{t}a", "{t}b", "1", "2").exec();
      return [await echo, piped];
    });
    expect(b).toEqual(a);
    expect(a[0]).toEqual(["{t}a", "{t}b", "c", "d"]);
  });

  it("takes subscribe(channel, callback) as a node-style callback, messages on the 'message' event", async () => {
    const [a, b] = await both(async (client, name) => {
      const subscriber = name === "ioredis" ? fleet.servers[0]!.client() : fleet.client();
      const heard: string[] = [];
      subscriber.on("message", (channel: string, message: string) => heard.push(`${channel}:${message}`));
      const subscribed = callback();
      const count = await (subscriber.subscribe as (...a: unknown[]) => Promise<number>)(`news-${name}`, subscribed.fn);
      const patterned = callback();
      await (subscriber.psubscribe as (...a: unknown[]) => Promise<number>)(`ev-${name}:*`, patterned.fn);
      subscriber.on("pmessage", (pattern: string, channel: string, message: string) => heard.push(`${pattern}|${channel}:${message}`));
      await client.publish(`news-${name}`, "hello");
      await client.publish(`ev-${name}:1`, "there");
      await eventually(async () => expect(heard).toHaveLength(2));
      const unsubscribed = callback();
      await (subscriber.unsubscribe as (...a: unknown[]) => Promise<number>)(`news-${name}`, unsubscribed.fn);
      await subscriber.quit();
      return [count, await subscribed.done, await patterned.done, await unsubscribed.done, heard.map((h) => h.replace(name, "X").replace(name, "X"))];
    });
    expect(b).toEqual(a);
    expect(a.slice(0, 4)).toEqual([1, [null, 1], [null, 2], [null, 1]]);
  });

  it("keeps shardis's handler form as an explicit option, subscribe(channel, { handler })", async () => {
    const heard: string[] = [];
    const count = await sharded.subscribe("with-handler", { handler: (message, channel) => heard.push(`${channel}:${message}`) });
    expect(count).toBeGreaterThan(0);
    await sharded.publish("with-handler", "hi");
    await eventually(async () => expect(heard).toEqual(["with-handler:hi"]));
    await sharded.unsubscribe("with-handler");
  });

  it("has writable options with ioredis's host and port, as libraries set connectionName (bull)", async () => {
    const one = new ShardedClient({ shards: [fleet.shards[0]!], redis: { password: undefined }, lazyConnect: true });
    try {
      const options = one.options as unknown as Record<string, unknown>;
      expect([options.host, options.port]).toEqual([fleet.servers[0]!.host, fleet.servers[0]!.port]);
      expect([plain.options.host, plain.options.port]).toEqual([fleet.servers[0]!.host, fleet.servers[0]!.port]);
      options.connectionName = "bull:queue";
      expect(options.connectionName).toBe("bull:queue");
    } finally {
      one.disconnect();
    }
  });

  it("rejects connect() on a client already connected, as ioredis does", async () => {
    const [a, b] = await both(async (client) => loose(client).connect().then(() => "resolved", (e: Error) => e.message));
    expect(b).toBe(a);
  });

  it("emits 'connect' with status 'connect', then 'ready', and 'connect' again before 'ready' after a reconnect", async () => {
    const own = await startFleet(1);
    try {
      const pair = [own.servers[0]!.client({ lazyConnect: true, retryStrategy: () => 50 }), own.client({ lazyConnect: true })] as const;
      const seen = pair.map((client) => {
        const events: string[] = [];
        for (const event of ["connect", "ready", "close", "reconnecting"]) client.on(event as "ready", () => events.push(`${event}:${client.status}`));
        client.on("error", () => undefined);
        return events;
      });
      await Promise.all(pair.map((c) => c.connect()));
      await Promise.all(pair.map((c) => c.ping()));
      await own.servers[0]!.halt();
      await eventually(async () => expect(seen.every((events) => events.includes("reconnecting:reconnecting"))).toBe(true), 10_000);
      await own.servers[0]!.restart();
      await eventually(async () => expect(seen.every((events) => events.filter((e) => e.startsWith("ready")).length === 2)).toBe(true), 10_000);
      // Both say close and reconnecting again for each failed attempt; how many attempts fail differs.
      const once = seen.map((events) => events.join(" ").replace(/( close:reconnecting reconnecting:reconnecting)+/g, "$1"));
      expect(once[1]).toEqual(once[0]);
      expect(once[0]).toBe("connect:connect ready:ready close:reconnecting reconnecting:reconnecting connect:connect ready:ready");
    } finally {
      await own.stop();
    }
  });

  it("says close and reconnecting (with the delay) for every failed reconnect attempt, then connect, ready, and close, end on quit, as ioredis", async () => {
    const own = await startFleet(1);
    try {
      // ioredis with its default retryStrategy (a delay growing by 50 ms an attempt), shardis with its own backoff.
      const pair = [own.servers[0]!.client({ lazyConnect: true }), own.client({ lazyConnect: true })] as const;
      const seen = pair.map((client) => {
        const events: Array<[string, unknown]> = [];
        for (const event of ["connect", "ready", "close", "reconnecting", "end", "error"]) client.on(event as "ready", (arg?: unknown) => events.push([event, arg]));
        return events;
      });
      const count = (events: Array<[string, unknown]>, name: string) => events.filter(([event]) => event === name).length;
      await Promise.all(pair.map((c) => c.connect()));
      await Promise.all(pair.map((c) => c.ping()));
      await own.servers[0]!.halt();
      // The loss, then at least two failed attempts to reconnect.
      await eventually(async () => expect(seen.map((events) => count(events, "reconnecting") >= 3)).toEqual([true, true]), 15_000);
      await own.servers[0]!.restart();
      await eventually(async () => expect(seen.map((events) => count(events, "ready"))).toEqual([2, 2]), 15_000);
      await Promise.all(pair.map((c) => c.quit()));
      await eventually(async () => expect(seen.map((events) => count(events, "end"))).toEqual([1, 1]));
      for (const events of seen) {
        // Every reconnecting says how long until the next attempt, as ioredis's retryStrategy answered.
        const delays = events.filter(([event]) => event === "reconnecting").map(([, delay]) => delay);
        expect(delays.every((delay) => typeof delay === "number" && delay > 0), String(delays)).toBe(true);
        expect(count(events, "close")).toBe(count(events, "reconnecting") + 1);
      }
      // The same sequence of names, modulo the number of failed attempts: each says error (ECONNREFUSED), close, reconnecting.
      const names = seen.map((events) => events.map(([event]) => event).join(" ").replace(/( error close reconnecting)+/g, "$1"));
      expect(names[1]).toBe(names[0]);
      expect(names[0]).toBe("connect ready close reconnecting error close reconnecting connect ready close end");
    } finally {
      await own.stop();
    }
  });

  it("says close and reconnecting for every failed attempt while the server is down at start, then connect and ready, as ioredis", async () => {
    const own = await startFleet(1);
    try {
      await own.servers[0]!.halt();
      const pair = [own.servers[0]!.client({ lazyConnect: true }), own.client({ lazyConnect: true })] as const;
      const seen = pair.map((client) => {
        const events: string[] = [];
        for (const event of ["connect", "ready", "close", "reconnecting", "end"]) client.on(event as "ready", () => events.push(`${event}:${client.status}`));
        client.on("error", () => undefined);
        void client.connect().catch(() => undefined);
        return events;
      });
      await eventually(async () => expect(seen.map((events) => events.filter((e) => e.startsWith("reconnecting")).length >= 2)).toEqual([true, true]), 15_000);
      await own.servers[0]!.restart();
      await eventually(async () => expect(seen.map((events) => events.at(-1))).toEqual(["ready:ready", "ready:ready"]), 15_000);
      const names = seen.map((events) => ` ${events.join(" ")}`.replace(/( close:reconnecting reconnecting:reconnecting)+/g, "$1").trim());
      expect(names[1]).toBe(names[0]);
      expect(names[0]).toBe("close:reconnecting reconnecting:reconnecting connect:connect ready:ready");
      await Promise.all(pair.map((c) => c.quit()));
    } finally {
      await own.stop();
    }
  });

  it("reopens a closed client: connect() after quit() or disconnect(), and disconnect(true) reconnects", async () => {
    const [a, b] = await both(async (_, name) => {
      const client = loose(name === "ioredis" ? fleet.servers[0]!.client({ lazyConnect: true }) : fleet.client({ lazyConnect: true }));
      const events: string[] = [];
      for (const event of ["connect", "ready", "close", "reconnecting", "end"]) client.on(event, () => events.push(event));
      await client.connect();
      await client.set("{t}r", "1");
      await client.quit();
      // ioredis's quit() resolves on QUIT's reply; the socket closes a moment later.
      await eventually(async () => expect(client.status).toBe("end"));
      const closed = client.status;
      await client.connect();
      const reopened = [client.status, await client.get("{t}r")];
      client.disconnect();
      await eventually(async () => expect(events.filter((e) => e === "end")).toHaveLength(2));
      await client.connect();
      const again = await client.incr("{t}r");
      client.disconnect(true);
      await eventually(async () => expect([client.status, events.filter((e) => e === "ready").length]).toEqual(["ready", 4]), 10_000);
      const after = await client.incr("{t}r");
      await client.quit();
      return { closed, reopened, again, after, events };
    });
    expect(b).toEqual(a);
    expect(a).toMatchObject({ closed: "end", reopened: ["ready", "1"], again: 2, after: 3 });
  });

  it("accepts the ioredis options libraries and their users pass (BullMQ's maxRetriesPerRequest: null, ...), in the client and duplicate()", async () => {
    const ioredisOptions = { maxRetriesPerRequest: null, enableOfflineQueue: false, enableAutoPipelining: true, retryStrategy: () => 100, reconnectOnError: () => false };
    const client = new ShardedClient({ shards: fleet.shards, redis: ioredisOptions });
    const copy = client.duplicate({ maxRetriesPerRequest: null, socketTimeout: 5000, connectionName: "copy" });
    try {
      // enableOfflineQueue: false is honoured, as by ioredis: nothing waits for a connection, so wait for ready first.
      await Promise.all([client.ready(), copy.ready()]);
      await client.set("{t}opts", "1");
      expect(await copy.get("{t}opts")).toBe("1");
      expect(await loose(copy).client("GETNAME")).toBe("copy");
    } finally {
      await Promise.all([client.quit(), copy.quit()]);
    }
  });

  it("leaves no unhandled rejection", () => {
    expect(unhandled.errors).toEqual([]);
  });
});
