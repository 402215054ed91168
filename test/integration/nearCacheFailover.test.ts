/**
 * The near cache through a Sentinel failover on real servers: the shard
 * whose master moved loses its entries (its tracking connection is gone
 * with the old master), the other shard keeps serving its own from memory,
 * and the moved shard caches again on its new master.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardedClient } from "../../lib/index.js";
import { startHaTopology, type HaTopology } from "../support/sentinel.js";
import { eventually, keyOn } from "../support/keys.js";
import { watchUnhandled } from "../support/fleet.js";

describe("near cache across a failover", () => {
  let ha: HaTopology;
  const unhandled = watchUnhandled();

  beforeAll(async () => {
    ha = await startHaTopology({ shards: 2, replicasPerShard: 1, sentinels: 3 });
  });
  afterAll(async () => {
    unhandled.stop();
    await ha?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("flushes only the failed-over shard, which caches again on its new master", async () => {
    const c = new ShardedClient({
      sentinels: ha.sentinels.map((s) => s.address),
      shards: ha.shards.map((s, i) => ({ name: `s${i}`, masterName: s.masterName })),
      nearCache: {},
      commandTimeoutMs: 4000,
    });
    try {
      await c.ready();
      const domain = (name: string) => c.nearCacheStats().shards.find((s) => s.shard === name);
      await eventually(async () => expect([domain("s0")?.tracking, domain("s1")?.tracking]).toEqual([true, true]), 10_000);
      const [k0, k1] = [keyOn(c, "s0", "nearfo"), keyOn(c, "s1", "nearfo")];
      await c.set(k0, "zero");
      await c.set(k1, "one");
      for (const key of [k0, k1]) {
        await c.get(key);
        await c.get(key);
      }
      expect([domain("s0")!.entries, domain("s1")!.entries]).toEqual([1, 1]);
      const oldMaster = c.topology().shards[0]!.master!.address;

      expect(await ha.sentinels[0]!.client().call("SENTINEL", "FAILOVER", ha.shards[0]!.masterName)).toBe("OK");
      await eventually(async () => expect(c.topology().shards[0]!.master!.address).not.toBe(oldMaster), 30_000);
      await eventually(async () => expect(domain("s0")!.flushes.failover + domain("s0")!.flushes.connection).toBeGreaterThanOrEqual(1), 10_000);
      expect(domain("s0")!.entries).toBe(0);
      // s1 kept its entry: served from memory.
      const s1 = domain("s1")!;
      expect(s1.flushes).toEqual({ connection: 0, failover: 0, topology: 0, server: 0, tracking: 0, write: 0 });
      const hitsBefore = s1.hits;
      expect(await c.get(k1)).toBe("one");
      expect(domain("s1")!.hits).toBe(hitsBefore + 1);

      // The new master: writes land there, reads see them, and once its tracking is on, it caches.
      await eventually(async () => expect(await c.set(k0, "after")).toBe("OK"), 10_000);
      expect(await c.get(k0)).toBe("after");
      await eventually(async () => expect(domain("s0")!.tracking).toBe(true), 10_000);
      await c.get(k0);
      const hits = domain("s0")!.hits;
      expect(await c.get(k0)).toBe("after");
      expect(domain("s0")!.hits).toBe(hits + 1);
    } finally {
      await c.quit();
    }
  }, 60_000);
});
