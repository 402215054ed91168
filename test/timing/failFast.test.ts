/**
 * Timing budget, run alone (npm run test:timing): while a node's breaker is
 * open, its commands fail in under a millisecond (p50 and p99 over 1000
 * calls). That they fail without touching the socket is checked in
 * test/integration/resilience.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CircuitOpenError, ShardedClient } from "../../lib/index.js";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy.js";
import { keyOn } from "../support/keys.js";
import { startRedis, type RedisServer } from "../support/redis.js";

describe("fail-fast timing", () => {
  let server: RedisServer;
  let proxy: FaultProxy;
  let client: ShardedClient;

  beforeAll(async () => {
    server = await startRedis();
    proxy = await startFaultProxy({ host: server.host, port: server.port });
    client = new ShardedClient({ shards: [{ name: "s0", master: proxy.address }] });
  });
  afterAll(async () => {
    await client?.quit();
    await proxy?.close();
    await server?.stop();
  });

  it("an open breaker fails commands in under 1 ms (p50 and p99 of 1000)", async () => {
    const key = keyOn(client, "s0");
    await client.set(key, "v");
    const opened = new Promise((resolve) => client.on("breaker", (e) => e.state === "open" && resolve(e)));
    proxy.set("blackhole");
    await Promise.allSettled([client.get(key), client.get(key)]); // stalls, then trips
    await opened;
    const durations: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const started = performance.now();
      const error = await client.get(key).catch((e: unknown) => e);
      durations.push(performance.now() - started);
      expect(error).toBeInstanceOf(CircuitOpenError);
    }
    durations.sort((a, b) => a - b);
    console.info(`[fail-fast] p50 ${durations[500]!.toFixed(3)} ms, p99 ${durations[990]!.toFixed(3)} ms`);
    expect(durations[500]!).toBeLessThan(1);
    expect(durations[990]!).toBeLessThan(1);
  });
});
