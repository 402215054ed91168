/**
 * The near cache while a node is sick, on real redis-servers: a node
 * stopped with SIGSTOP keeps its sockets up (its tracking stays confirmed)
 * while its breaker opens on the stall. A `fallback` answer is never kept
 * (Redis never saw that value, so no invalidation would ever drop it), and
 * MGET fails the way it does without a near cache.
 */
import { describe, expect, it } from "vitest";
import { CircuitOpenError, PartialFailureError, ShardedClient } from "../../lib/index.js";
import { fleetForFile } from "../support/fleet.js";
import { eventually, keyOn, keysOn, READY_MS } from "../support/keys.js";

describe("near cache under faults", () => {
  const context = fleetForFile(2);
  const ready = async (c: ShardedClient) => {
    await c.ready(READY_MS);
    return c;
  };
  /** Both shards' tracking confirmed (by CLIENT TRACKING's reply): they cache. */
  const tracking = (c: ShardedClient) => eventually(async () => expect(c.nearCacheStats().shards.filter((s) => s.tracking)).toHaveLength(2));
  /** Resolves when the client's breaker for the shard reaches the state. */
  const breaker = (c: ShardedClient, shard: string, state: string) =>
    new Promise<void>((resolve) => c.on("breaker", (e) => e.shard === shard && e.state === state && resolve()));
  /** s1's server stopped (SIGSTOP: its sockets stay up, nothing is answered) while fn runs. */
  const whileStopped = async <T>(fn: () => Promise<T>): Promise<T> => {
    const server = context.fleet.servers[1]!;
    server.signal("SIGSTOP");
    try {
      return await fn();
    } finally {
      server.signal("SIGCONT");
    }
  };

  it("never keeps a fallback answer: a breaker opened on a stall (socket up) answers from the fallback, and Redis's values are read once it closes", async () => {
    const c = await ready(
      context.fleet.client({
        nearCache: {},
        commandTimeoutMs: 1000,
        breaker: { stallMs: 100, resetTimeoutMs: 300 },
        fallback: (command, args) => (command === "mget" ? args.map(() => "fallback") : "fallback"),
      }),
    );
    await tracking(c);
    const [trip, key, m0, m1] = keysOn(c, "s1", 4, "nearfb");
    await context.fleet.raw(1).mset(key!, "real", m0!, "r0", m1!, "r1");
    const opened = breaker(c, "s1", "open");
    let closed: Promise<void> | undefined;
    await whileStopped(async () => {
      const stalled = c.get(trip!).catch((e: unknown) => e); // unanswered: the stall watch opens the breaker
      await opened;
      closed = breaker(c, "s1", "closed");
      expect(await c.get(key!)).toBe("fallback");
      expect(await c.mget(m0!, m1!)).toEqual(["fallback", "fallback"]);
      // The socket is up: the shard still tracks, so what it keeps would be trusted.
      expect(c.nearCacheStats().shards.find((s) => s.shard === "s1")!.tracking).toBe(true);
      await stalled;
    });
    await closed;
    expect(await c.get(key!)).toBe("real");
    expect(await c.mget(m0!, m1!)).toEqual(["r0", "r1"]);
    expect(await c.get(m1!)).toBe("r1");
    // Read from Redis once more, those are kept as usual.
    const hits = c.nearCacheStats().hits;
    expect(await c.get(key!)).toBe("real");
    expect(c.nearCacheStats().hits).toBe(hits + 1);
  });

  it("MGET fails as without a near cache when some of its keys are cached: PartialFailureError across shards, [value, error] with partial", async () => {
    const options = { commandTimeoutMs: 1000, breaker: { stallMs: 100, resetTimeoutMs: 60_000 } };
    const near = await ready(context.fleet.client({ ...options, nearCache: {} }));
    const plain = await ready(context.fleet.client(options));
    await tracking(near);
    const k0 = keyOn(near, "s0", "nearmget");
    const [k1, k1b, trip] = keysOn(near, "s1", 3, "nearmget");
    await context.fleet.raw(0).set(k0, "v0");
    await context.fleet.raw(1).mset(k1!, "v1", k1b!, "v1b");
    // Cached: one key of each shard.
    expect([await near.get(k0), await near.get(k1b!)]).toEqual(["v0", "v1b"]);
    const opened = Promise.all([breaker(near, "s1", "open"), breaker(plain, "s1", "open")]);
    type Outcome = unknown[] | Error;
    const outcomes = await whileStopped(async () => {
      const stalled = Promise.all([near.get(trip!).catch((e: unknown) => e), plain.get(trip!).catch((e: unknown) => e)]);
      await opened;
      const calls = async (c: ShardedClient) => ({
        split: (await c.mget(k0, k1!).catch((e: unknown) => e)) as Outcome,
        partial: (await c.mget([k0, k1!], { partial: true }).catch((e: unknown) => e)) as Outcome,
        arrayForm: (await c.mget([k0, k1!]).catch((e: unknown) => e)) as Outcome,
        oneShard: (await c.mget(k1b!, k1!).catch((e: unknown) => e)) as Outcome,
      });
      const result = { plain: await calls(plain), near: await calls(near) };
      await stalled;
      return result;
    });
    const shape = (outcome: Outcome) =>
      outcome instanceof Error
        ? {
            error: outcome.constructor.name,
            failures: (outcome as PartialFailureError).failures?.map((f) => [f.shard, f.error.constructor.name]),
            succeeded: (outcome as PartialFailureError).succeeded,
          }
        : outcome.map((v) => (v instanceof Error ? v.constructor.name : v));
    const split = { error: "PartialFailureError", failures: [["s1", "CircuitOpenError"]], succeeded: ["s0"] };
    expect(shape(outcomes.plain.split)).toEqual(split);
    expect(shape(outcomes.plain.partial)).toEqual(["v0", "CircuitOpenError"]);
    expect(outcomes.plain.oneShard).toBeInstanceOf(CircuitOpenError);
    for (const call of ["split", "partial", "arrayForm", "oneShard"] as const) {
      expect([call, shape(outcomes.near[call])]).toEqual([call, shape(outcomes.plain[call])]);
    }
    expect(outcomes.near.split).toBeInstanceOf(PartialFailureError);
    expect((outcomes.near.split as PartialFailureError).code).toBe("ERR_SHARDIS_PARTIAL_FAILURE");
    expect((outcomes.near.partial as unknown[])[1]).toBeInstanceOf(CircuitOpenError);
  });
});
