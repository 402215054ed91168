/**
 * The near cache while a node is sick, on real redis-servers: a node
 * stopped with SIGSTOP keeps its sockets up (its tracking stays confirmed)
 * while its breaker opens on the stall. A `fallback` answer is never kept
 * (Redis never saw that value, so no invalidation would ever drop it).
 */
import { describe, expect, it } from "vitest";
import type { ShardedClient } from "../../lib/index.js";
import { fleetForFile } from "../support/fleet.js";
import { eventually, keysOn } from "../support/keys.js";

describe("near cache under faults", () => {
  const context = fleetForFile(2);
  const ready = async (c: ShardedClient) => {
    await c.ready();
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
});
