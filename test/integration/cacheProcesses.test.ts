/**
 * client.cache() across processes, each with its own client, as app servers
 * share a fleet: a stampede on one missing key loads it once in total; the
 * lock holder SIGKILLed mid-load costs exactly one more load; a holder
 * stalled (SIGSTOP) past its lock has its late write refused.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ShardedClient } from "../../lib/index.js";
import { startCacheWorker, type CacheWorker } from "../support/cacheWorkers.js";
import { startFleet, type Fleet } from "../support/fleet.js";

describe("client.cache() across processes", () => {
  let fleet: Fleet;
  let client: ShardedClient;
  const workers: CacheWorker[] = [];
  let run = 0;

  beforeAll(async () => {
    fleet = await startFleet(3);
    client = fleet.client();
    await client.ready();
  });
  afterEach(() => workers.splice(0).forEach((w) => w.kill()));
  afterAll(async () => fleet?.stop());

  function spawn(count: number, env: Record<string, string | number>): CacheWorker[] {
    const started = Array.from({ length: count }, () =>
      startCacheWorker({ SHARDS: fleet.shards.map((s) => s.master).join(","), KEY: "hot", VALUE: "v", CONCURRENCY: 250, ...env }),
    );
    workers.push(...started);
    return started;
  }
  const loadsOf = async (namespace: string) => Number(await client.get(`${namespace}:loads`));

  it("4 processes x 250 concurrent getOrSet of one missing key: the loader runs once in total, everyone gets its value", async () => {
    const namespace = `stampede${++run}`;
    // A lock of 5 s (extended every third of it): a holder's event loop stalled by a busy machine does not lose it.
    const group = spawn(4, { NAMESPACE: namespace, LOADER_MS: 300, LOCK_TTL_MS: 5000, WAIT_TIMEOUT_MS: 5000 });
    await Promise.all(group.map((w) => w.waitFor("ready")));
    group.forEach((w) => w.go());
    const results = await Promise.all(group.map((w) => w.result()));
    expect(await loadsOf(namespace)).toBe(1);
    const values = new Set(results.flatMap((r) => r.results.map((x) => x.value ?? x.error)));
    expect(values.size).toBe(1);
    expect([...values][0]).toMatch(/^v:\d+$/);
    expect(results.flatMap((r) => r.results)).toHaveLength(1000);
    // The three that did not load waited on the lock, polling: a handful of GETs each, not one per caller.
    const waiters = results.filter((r) => r.stats!.lockWaits > 0);
    expect(waiters).toHaveLength(3);
    for (const w of waiters) expect(w.gets).toBeLessThan(20);
  });

  it("the lock holder SIGKILLed mid-load: exactly one more load, every other caller answered within waitTimeoutMs + loader time", async () => {
    const namespace = `killed${++run}`;
    const env = { NAMESPACE: namespace, LOADER_MS: 300, LOCK_TTL_MS: 400, WAIT_TIMEOUT_MS: 2000 };
    // The holder's own load would take 10 s: only its death lets the others in.
    const [holder] = spawn(1, { ...env, LOADER_MS: 10_000 });
    const others = spawn(3, env);
    await Promise.all([holder!, ...others].map((w) => w.waitFor("ready")));
    holder!.go();
    await holder!.waitFor("loading");
    others.forEach((w) => w.go());
    holder!.kill("SIGKILL");
    const results = await Promise.all(others.map((w) => w.result()));
    expect(await loadsOf(namespace)).toBe(2);
    const all = results.flatMap((r) => r.results);
    expect(all.filter((r) => r.error)).toEqual([]);
    expect(new Set(all.map((r) => r.value)).size).toBe(1);
    expect(Math.max(...all.map((r) => r.ms))).toBeLessThan(2000 + 300);
  });

  it("a holder stalled (SIGSTOP) past its lock has its late write refused; the value written meanwhile stays", async () => {
    const namespace = `stalled${++run}`;
    const [holder] = spawn(1, { NAMESPACE: namespace, LOADER_MS: 300, LOCK_TTL_MS: 150, WAIT_TIMEOUT_MS: 10_000, CONCURRENCY: 1, VALUE: "late" });
    await holder!.waitFor("ready");
    holder!.go();
    await holder!.waitFor("loading");
    holder!.kill("SIGSTOP");
    try {
      // Its lock lapses (nobody extends it); another app server loads and writes.
      const cache = client.cache<string>({ namespace, ttlMs: 60_000, lockTtlMs: 150, waitTimeoutMs: 2000 });
      expect(await cache.getOrSet("hot", async () => "newer")).toBe("newer");
    } finally {
      holder!.kill("SIGCONT");
    }
    const result = await holder!.result();
    expect(result.results[0]!.value).toMatch(/^late:/); // its own caller still got what its loader returned
    expect(result.stats!.refusedWrites).toBe(1);
    expect(await client.cache<string>({ namespace, ttlMs: 60_000 }).get("hot")).toBe("newer");
  });
});
