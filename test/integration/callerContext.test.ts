/**
 * Traces in the caller's context, against real servers: every command's and
 * every call's trace sees the AsyncLocalStorage store of the request that
 * made it (at start and when it settles), and a subscriber's own bound
 * store is entered for it, across batching, retries, MOVED over a real
 * cluster and a Sentinel failover. shardis's own writes never reach
 * ioredis's channels as commands of whichever request started the turn.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CALL_CHANNEL, COMMAND_CHANNEL, keySlot, ShardedClient, type CallTrace, type CommandTrace } from "../../lib/index.js";
import { startFleet, watchUnhandled, type Fleet } from "../support/fleet.js";
import { eventually, keyOn } from "../support/keys.js";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy.js";
import { migrateSlot, startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";
import { startHaTopology, type HaTopology } from "../support/sentinel.js";
import { requests, watchChannel, type Seen, type Watch } from "../support/traceWatch.js";

interface IoredisCommandContext {
  command: string;
  args: string[];
  serverAddress: string;
  serverPort: number;
  result?: unknown;
}

/** Every context ran in its own request's store, at start and at its end, with the subscriber's bound store entered for it. */
function inOwnRequest<C>(seen: ReadonlyArray<Seen<C>>, requestOf: (ctx: C) => string | undefined) {
  const wrong = seen.filter((s) => {
    const want = requestOf(s.ctx);
    return s.atStart !== want || s.atEnd !== want || !s.boundAtStart || !s.boundAtEnd;
  });
  return { total: seen.length, wrong: wrong.map((s) => ({ want: requestOf(s.ctx), atStart: s.atStart, atEnd: s.atEnd, bound: [s.boundAtStart, s.boundAtEnd] })) };
}

const keyArg = (ctx: { args?: readonly unknown[] }) => String(ctx.args?.[0] ?? "");
/** Request ids ride in the keys: "ctx:<request>:...". */
const requestInKey = (ctx: { args?: readonly unknown[] }) => keyArg(ctx).split(":")[1];

describe("traces in the caller's context", () => {
  const unhandled = watchUnhandled();
  const watches: Array<Watch<object>> = [];
  const watch = <C extends object>(name: string) => {
    const w = watchChannel<C>(name);
    watches.push(w as unknown as Watch<object>);
    return w;
  };
  afterEach(() => {
    for (const w of watches.splice(0)) w.stop();
  });
  afterAll(() => {
    unhandled.stop();
    expect(unhandled.errors).toEqual([]);
  });

  describe("on plain shards", () => {
    let fleet: Fleet;
    let proxy: FaultProxy;
    beforeAll(async () => {
      fleet = await startFleet(2);
      proxy = await startFaultProxy(fleet.servers[1]!);
      // The fleet's own admin connections: their handshakes done before anything is watched.
      await Promise.all(fleet.servers.map((_, i) => fleet.raw(i).ping()));
    });
    afterAll(async () => {
      await fleet?.stop();
      await proxy?.close();
    });

    it("gives each of 250 batched commands and calls its own request's store, and ioredis's channel only the callers' commands", async () => {
      const commands = watch<CommandTrace>(COMMAND_CHANNEL);
      const calls = watch<CallTrace>(CALL_CHANNEL);
      const ioredis = watch<IoredisCommandContext>("ioredis:command");
      // Subscribed before the client exists: its connects, handshakes and ROLE checks happen under watch.
      const c = fleet.client({ tracing: { includeArgs: true } });
      // The first request connects the client: its handshake must not run as that request's commands.
      await requests.run("first", () => c.set("ctx:first:k", "v"));
      await Promise.all(
        Array.from({ length: 250 }, (_, i) => requests.run(`r${i}`, () => (i % 2 ? c.get(`ctx:r${i}:k`) : c.set(`ctx:r${i}:k`, "v")))),
      );
      expect(inOwnRequest(commands.seen, requestInKey)).toEqual({ total: 251, wrong: [] });
      expect(inOwnRequest(calls.seen, requestInKey)).toEqual({ total: 251, wrong: [] });
      // Published in one write per node: the batch is not what the contexts follow.
      expect(Math.max(...commands.seen.map((s) => s.ctx.batchSize))).toBeGreaterThan(10);
      // ioredis's channel: each caller's command once, in its caller's context; nothing of shardis's own (ROLE, CLIENT, INFO).
      expect(ioredis.seen.map((s) => s.ctx.command).filter((name) => name !== "get" && name !== "set")).toEqual([]);
      expect(inOwnRequest(ioredis.seen, requestInKey)).toEqual({ total: 251, wrong: [] });
      const onS1 = ioredis.seen.find((s) => c.shardOf(keyArg(s.ctx)) === "s1")!.ctx;
      expect(`${onS1.serverAddress}:${onS1.serverPort}`).toBe(fleet.shards[1]!.master);
    });

    it("gives ioredis's channels what Sentry's ioredis integration reads: command, arguments, server, result or error; a MULTI block as a batch", async () => {
      const c = fleet.client();
      await c.ready();
      const commands = watch<IoredisCommandContext & { error?: Error }>("ioredis:command");
      const batches = watch<{ batchMode: string; batchSize: number; serverAddress: string; serverPort: number }>("ioredis:batch");
      const key = keyOn(c, "s0", "ctx:sentry:k");
      await requests.run("sentry", async () => {
        await c.set(key, "secret-value");
        await c.get(key);
        await c.lpush(key, "x").catch(() => undefined);
        await c.multi().set(key, "1").get(key).exec();
      });
      const [host, port] = fleet.shards[0]!.master.split(":");
      expect(commands.seen.map((s) => [s.ctx.command, s.ctx.args, s.ctx.serverAddress, s.ctx.serverPort])).toEqual([
        ["set", [key, "?"], host, Number(port)],
        ["get", [key], host, Number(port)],
        ["lpush", [key, "?"], host, Number(port)],
      ]);
      expect(commands.seen[1]!.ctx.result).toBe("secret-value");
      expect(commands.seen[2]!.failed).toBe(true);
      expect(commands.seen[2]!.ctx.error?.message).toMatch(/^WRONGTYPE/);
      expect(batches.seen.map((s) => [s.ctx.batchMode, s.ctx.batchSize, `${s.ctx.serverAddress}:${s.ctx.serverPort}`, s.atStart, s.boundAtStart])).toEqual([
        ["MULTI", 2, fleet.shards[0]!.master, "sentry", true],
      ]);
    });

    it("keeps a retried read's trace in its request, with the retry as an event", async () => {
      const commands = watch<CommandTrace>(COMMAND_CHANNEL);
      const c = new ShardedClient({ shards: [fleet.shards[0]!, { name: "s1", master: proxy.address }], breaker: false, tracing: { includeArgs: true } });
      try {
        const key = keyOn(c, "s1", "ctx:retry:k");
        await c.set(key, "v");
        proxy.set("delay", { delayMs: 200 });
        const before = proxy.bytesFromClients;
        const read = requests.run("retry", () => c.get(key));
        // The read reached the proxy, which holds it: reset the connection under it, so the read is retried.
        await eventually(async () => expect(proxy.bytesFromClients).toBeGreaterThan(before));
        proxy.set("reset");
        proxy.set("pass");
        expect(await read).toBe("v");
        const traced = commands.seen.filter((s) => s.ctx.command === "get");
        expect(inOwnRequest(traced, () => "retry")).toEqual({ total: 1, wrong: [] });
        expect(traced[0]!.ctx.events.map((e) => e.name)).toContain("retry");
      } finally {
        await c.quit();
      }
    });
  });

  describe("over a Redis Cluster", () => {
    let cluster: RedisClusterHandle;
    beforeAll(async () => {
      cluster = await startRedisCluster(3);
    });
    afterAll(async () => cluster?.stop());

    it("keeps commands redirected by MOVED in their requests, with the redirect as an event", async () => {
      const c = new ShardedClient({ cluster: { seeds: [cluster.seeds[0]!] }, tracing: { includeArgs: true } });
      try {
        await c.ready();
        const [from, to] = [cluster.masters[0]!, cluster.masters[1]!];
        let tag = "";
        for (let i = 0; !tag; i++) if ((await cluster.ownerOf(keySlot(`{m${i}}`))) === from.address) tag = `{m${i}}`;
        const keys = Array.from({ length: 20 }, (_, i) => `ctx:mv${i}:${tag}`);
        await Promise.all(keys.map((k) => c.set(k, "v")));
        // The slot moves behind the client's back: its map still names the old owner, which answers MOVED.
        const migration = await migrateSlot(cluster, keySlot(tag), from, to);
        await migration.begin();
        await migration.finish();
        const commands = watch<CommandTrace>(COMMAND_CHANNEL);
        const replies = await Promise.all(keys.map((k, i) => requests.run(`mv${i}`, () => c.get(k))));
        expect(replies).toEqual(keys.map(() => "v"));
        expect(inOwnRequest(commands.seen, requestInKey)).toEqual({ total: 20, wrong: [] });
        const moved = commands.seen.filter((s) => s.ctx.events.some((e) => e.name === "moved"));
        expect(moved.length).toBeGreaterThan(0);
        for (const s of moved) expect(s.ctx.node).toBe(to.address);
      } finally {
        await c.quit();
      }
    });
  });

  describe("through a Sentinel failover", () => {
    let ha: HaTopology;
    beforeAll(async () => {
      ha = await startHaTopology({ shards: 1, replicasPerShard: 1, sentinels: 3 });
    });
    afterAll(async () => ha?.stop());

    it("keeps commands handed to the new master in their requests, with the hand-over as an event", async () => {
      const c = new ShardedClient({
        sentinels: ha.sentinels.map((s) => s.address),
        shards: [{ name: "s0", masterName: ha.shards[0]!.masterName }],
        breaker: false,
        commandTimeoutMs: 20_000,
        tracing: { includeArgs: true },
      });
      try {
        await c.ready();
        const master = ha.shards[0]!.master;
        const down = new Promise<void>((resolve) => c.on("node:down", () => resolve()));
        master.signal("SIGKILL");
        await down;
        const commands = watch<CommandTrace>(COMMAND_CHANNEL);
        // Accepted while the master is gone: they wait in its queue and go to the replica Sentinel promotes.
        const writes = Array.from({ length: 10 }, (_, i) => requests.run(`fo${i}`, () => c.set(`ctx:fo${i}:k`, "v")));
        expect(await Promise.all(writes)).toEqual(writes.map(() => "OK"));
        expect(inOwnRequest(commands.seen, requestInKey)).toEqual({ total: 10, wrong: [] });
        for (const s of commands.seen) {
          expect(s.ctx.node).toBe(ha.shards[0]!.replicas[0]!.address);
          expect(s.ctx.events.map((e) => e.name)).toContain("handover");
        }
      } finally {
        await c.quit();
      }
    });
  });
});
