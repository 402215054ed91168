import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  CircuitOpenError,
  ConnectionError,
  FallbackError,
  InvalidArgumentError,
  QueueFullError,
  ShardedClient,
  TimeoutError,
} from "../../lib/index.js";
import { startRedisMany, stopAll, type RedisServer } from "../support/redis.js";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy.js";
import { freePort } from "../support/processes.js";
import { watchUnhandled } from "../support/fleet.js";
import { eventually, keyOn } from "../support/keys.js";

describe("resilience", () => {
  let servers: RedisServer[];
  let proxy: FaultProxy;
  let shards: Array<{ name: string; master: string }>;
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();

  const client = (options: Partial<ConstructorParameters<typeof ShardedClient>[0]> = {}) => {
    const c = new ShardedClient({ shards, ...options });
    clients.push(c);
    return c;
  };

  /** Waits for a client's breaker on a shard to reach a state. */
  const breakerState = (c: ShardedClient, shard: string, state: string) =>
    new Promise<void>((resolve) => c.on("breaker", (e) => e.shard === shard && e.state === state && resolve()));

  beforeAll(async () => {
    servers = await startRedisMany(2);
    proxy = await startFaultProxy(servers[1]!);
    shards = [
      { name: "s0", master: servers[0]!.address },
      { name: "s1", master: proxy.address },
    ];
  });
  beforeEach(() => proxy.set("pass"));
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    unhandled.stop();
    await proxy?.close();
    await stopAll(servers);
    expect(unhandled.errors).toEqual([]);
  });

  describe("circuit breaker", () => {
    it("fails fast, without touching the socket, while open (its speed: test/timing/failFast.test.ts)", async () => {
      const c = client();
      const key = keyOn(c, "s1");
      await c.set(key, "v");
      const opened = breakerState(c, "s1", "open");
      proxy.set("blackhole");
      await Promise.allSettled([c.get(key), c.get(key)]); // stalls, then trips
      await opened;
      const bytes = proxy.bytesFromClients;
      for (let i = 0; i < 1000; i++) expect(await c.get(key).catch((e: unknown) => e)).toBeInstanceOf(CircuitOpenError);
      expect(proxy.bytesFromClients).toBe(bytes);
      const error = (await c.get(key).catch((e: unknown) => e)) as CircuitOpenError;
      expect(error.code).toBe("ERR_SHARDIS_CIRCUIT_OPEN");
      expect(error.message).toMatch(/^shard s1 \(127\.0\.0\.1:\d+\): circuit open \(no reply for \d+ ms\); next probe in \d+ ms$/);
      // The other shard never noticed.
      expect(await c.set(keyOn(c, "s0"), "ok")).toBe("OK");
      const closed = breakerState(c, "s1", "closed");
      proxy.set("pass");
      await closed;
      expect(await c.get(key)).toBe("v");
    });

    it("answers reads from the fallback while open; writes still fail fast", async () => {
      const seen: Array<[string, unknown[], string]> = [];
      const c = client({
        commandTimeoutMs: 300,
        fallback: (command, args, error) => {
          seen.push([command, args, (error as CircuitOpenError).code]);
          return command === "get" ? "from-fallback" : null;
        },
      });
      const key = keyOn(c, "s1", "fb");
      const opened = breakerState(c, "s1", "open");
      proxy.set("reset");
      await Promise.allSettled([c.get(key), c.get(key)]);
      await opened;
      expect(await c.get(key)).toBe("from-fallback");
      expect(seen.at(-1)).toEqual(["get", [key], "ERR_SHARDIS_CIRCUIT_OPEN"]);
      await expect(c.set(key, "x")).rejects.toBeInstanceOf(CircuitOpenError);
    });

    it("turns a fallback that throws or rejects into FallbackError", async () => {
      const throwing = client({ fallback: () => { throw new Error("no cache either"); } });
      const rejecting = client({ fallback: async () => Promise.reject(new Error("async no")) });
      const key = keyOn(throwing, "s1", "bad-fb");
      const opened = Promise.all([breakerState(throwing, "s1", "open"), breakerState(rejecting, "s1", "open")]);
      proxy.set("reset");
      await Promise.allSettled([throwing.get(key), rejecting.get(key), throwing.get(key), rejecting.get(key)]);
      await opened;
      const a = (await throwing.get(key).catch((e: unknown) => e)) as FallbackError;
      const b = (await rejecting.get(key).catch((e: unknown) => e)) as FallbackError;
      for (const error of [a, b]) {
        expect(error).toBeInstanceOf(FallbackError);
        expect(error.code).toBe("ERR_SHARDIS_FALLBACK_FAILED");
      }
      expect((a.cause as Error).message).toBe("no cache either");
      expect((b.cause as Error).message).toBe("async no");
    });
  });

  describe("retries", () => {
    /** Runs `call` with its command held in flight by the proxy, then resets the connection under it. */
    async function resetUnder<T>(call: () => Promise<T>): Promise<T | unknown> {
      proxy.set("delay", { delayMs: 200 });
      const before = proxy.bytesFromClients;
      const pending = call().catch((e: unknown) => e);
      // The command reached the proxy, which holds it: reset the connection under it (reset acts at once).
      await eventually(async () => expect(proxy.bytesFromClients).toBeGreaterThan(before));
      proxy.set("reset");
      proxy.set("pass");
      return pending;
    }

    it("retries a read whose connection was lost, within its deadline", async () => {
      const c = client({ breaker: false });
      const key = keyOn(c, "s1", "retry-read");
      await c.set(key, "v");
      expect(await resetUnder(() => c.get(key))).toBe("v");
      // Counted: one retry, one reconnect, and the read once, as ok.
      const stats = c.stats();
      const s1 = stats.shards.find((s) => s.name === "s1")!;
      expect(s1.retries).toBe(1);
      expect(s1.byCommand.get!.master!.outcomes).toMatchObject({ ok: 1, connection: 0 });
      expect(stats.nodes.find((n) => n.shard === "s1")!.reconnects).toBe(1);
    });

    it("does not retry a write: its outcome is unknown", async () => {
      const c = client({ breaker: false });
      const key = keyOn(c, "s1", "retry-write");
      await c.set(key, "1");
      const error = await resetUnder(() => c.incr(key));
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as Error).message).toContain("may or may not have been applied");
      expect(c.stats().shards.find((s) => s.name === "s1")!.byCommand.incr!.master!.outcomes.connection).toBe(1);
    });

    it("retries writes marked idempotent, per call or by command name", async () => {
      const c = client({ breaker: false, retry: { idempotentCommands: ["SET"] } });
      const key = keyOn(c, "s1", "retry-idem");
      expect(await resetUnder(() => c.set(key, "a"))).toBe("OK");
      expect(await resetUnder(() => c.with({ idempotent: true }).expire(key, 100))).toBe(1);
      expect(await c.get(key)).toBe("a");
    });

    it("retries reads refused with BUSY while a slow script runs, not writes", async () => {
      const raw = servers[0]!.client();
      await raw.config("SET", "busy-reply-threshold", "50");
      const c = client({ commandTimeoutMs: 3000, retry: { attempts: 20, baseDelayMs: 50, maxDelayMs: 100 } });
      const key = keyOn(c, "s0", "busy");
      await c.set(key, "v");
      await c.shard("s0").ping();
      const probe = servers[0]!.client();
      await probe.ping();
      const slow = raw.eval("local t = redis.call('TIME'); local start = t[1] * 1000000 + t[2]; while true do t = redis.call('TIME'); if t[1] * 1000000 + t[2] - start > 400000 then break end end; return 1", 0);
      // The script is running once another connection is answered BUSY.
      await eventually(async () => expect(await probe.ping().catch((e: Error) => e.message)).toMatch(/^BUSY/), 2000);
      const [read, write] = await Promise.allSettled([c.get(key), c.set(key, "w")]);
      await slow;
      await raw.config("SET", "busy-reply-threshold", "5000");
      expect(read).toEqual({ status: "fulfilled", value: "v" });
      expect(write.status).toBe("rejected");
      expect(((write as PromiseRejectedResult).reason as Error).message).toMatch(/^BUSY/);
    });
  });

  describe("deadlines and queues", () => {
    it("takes a per-call deadline, and refuses a deadline of 0 or less", async () => {
      const c = client({ breaker: false });
      const key = keyOn(c, "s1", "deadline");
      proxy.set("blackhole");
      const started = performance.now();
      const error = (await c.with({ timeoutMs: 150 }).get(key).catch((e: unknown) => e)) as TimeoutError;
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error.timeoutMs).toBe(150);
      expect(performance.now() - started).toBeLessThan(400);
      for (const bad of [0, -5, Number.NaN, Infinity, "100"]) {
        expect(() => c.with({ timeoutMs: bad as number })).toThrow(InvalidArgumentError);
      }
      expect(() => c.with({ retries: 3 } as never)).toThrow(/unknown call option 'retries'/);
      await expect(c.quit({ timeoutMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it("bounds the queue of a node that is down; memory stays flat under load", async () => {
      const c = new ShardedClient({
        shards: [{ name: "down", master: `127.0.0.1:${await freePort()}` }],
        breaker: false,
        maxQueueLength: 500,
        commandTimeoutMs: 200,
      });
      clients.push(c);
      const gc = (globalThis as { gc?: () => void }).gc!;
      const burst = async () => {
        const outcomes = await Promise.all(Array.from({ length: 5000 }, (_, i) => c.get(`k${i}`).catch((e: unknown) => e)));
        return {
          full: outcomes.filter((o) => o instanceof QueueFullError).length,
          timedOut: outcomes.filter((o) => o instanceof TimeoutError).length,
        };
      };
      expect(await burst()).toEqual({ full: 4500, timedOut: 500 });
      gc();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < 20; i++) await burst();
      gc();
      const growth = process.memoryUsage().heapUsed - before;
      expect(growth).toBeLessThan(5 * 1024 * 1024);
    });
  });
});
