import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NoReplicaAvailableError, ShardedClient, type ShardisError } from "../../lib/index.js";
import { startRedis, stopAll, type RedisServer } from "../support/redis.js";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy.js";
import { waitForLink } from "../support/sentinel.js";
import { eventually } from "../support/keys.js";
import { sleep, watchUnhandled } from "../support/fleet.js";

/** How many GETs a server has executed (INFO commandstats). */
async function gets(server: RedisServer): Promise<number> {
  const info = await server.client().info("commandstats");
  return Number(/cmdstat_get:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

describe("reads from replicas (static shards)", () => {
  let master: RedisServer;
  let replica: RedisServer;
  const servers: RedisServer[] = [];
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();

  const client = (options: Partial<ConstructorParameters<typeof ShardedClient>[0]> = {}) => {
    const c = new ShardedClient({
      shards: [{ name: "s0", master: master.address, replicas: [replica.address] }],
      healthCheckIntervalMs: 50,
      ...options,
    });
    clients.push(c);
    return c;
  };

  /** Until the client has judged the replica (one health check), reads under replica policies go elsewhere. */
  const readableReplica = (c: ShardedClient) =>
    eventually(async () => expect(c.topology().shards[0]!.replicas[0]!.readable).toBe(true), 10_000);

  beforeAll(async () => {
    master = await startRedis();
    replica = await startRedis({ args: ["--replicaof", "127.0.0.1", String(master.port)] });
    servers.push(master, replica);
    await waitForLink(replica, master);
    await master.client().set("k", "v");
    await eventually(async () => expect(await replica.client().get("k")).toBe("v"));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    unhandled.stop();
    await stopAll(servers);
    expect(unhandled.errors).toEqual([]);
  });

  it("runs a readOnly script as EVAL_RO where the read policy says (a replica), and Redis refuses a write inside it", async () => {
    const c = client({ readFrom: "replica" });
    await readableReplica(c);
    c.defineCommand("peek", { readOnly: true, numberOfKeys: 1, lua: "return redis.call('GET', KEYS[1])" });
    c.defineCommand("sneak", { readOnly: true, numberOfKeys: 1, lua: "return redis.call('SET', KEYS[1], 'x')" });
    const ro = async (server: RedisServer) => {
      const info = await server.client().info("commandstats");
      return ["eval_ro", "evalsha_ro"].reduce((n, cmd) => n + Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0), 0);
    };
    const [m0, r0] = [await ro(master), await ro(replica)];
    for (let i = 0; i < 5; i++) expect(await (c as unknown as { peek(k: string): Promise<string> }).peek("k")).toBe("v");
    expect((await ro(replica)) - r0).toBe(5);
    expect((await ro(master)) - m0).toBe(0);
    // The call's own policy wins: from the master.
    expect(await (c.readFrom("master") as unknown as { peek(k: string): Promise<string> }).peek("k")).toBe("v");
    expect((await ro(master)) - m0).toBe(1);
    await expect((c.readFrom("master") as unknown as { sneak(k: string): Promise<unknown> }).sneak("k")).rejects.toThrow(/[Ww]rite commands are not allowed/);
  });

  it("replicaPreferred reads from the replica; writes still go to the master", async () => {
    const c = client({ readFrom: "replicaPreferred" });
    await readableReplica(c);
    const [m0, r0] = [await gets(master), await gets(replica)];
    for (let i = 0; i < 50; i++) expect(await c.get("k")).toBe("v");
    expect((await gets(replica)) - r0).toBe(50);
    expect((await gets(master)) - m0).toBe(0);
    expect(await c.set("written", "1")).toBe("OK");
    expect(await master.client().get("written")).toBe("1");
    const view = c.topology().shards[0]!;
    expect(view.master!.address).toBe(master.address);
    expect(view.replicas[0]).toMatchObject({ address: replica.address, role: "replica", connected: true, breaker: "closed", readable: true });
    expect(view.replicas[0]!.lagMs).toBeLessThanOrEqual(1000);
  });

  it("per call: client.readFrom(policy), and 'replica' with none fit is a typed error", async () => {
    const c = client();
    await readableReplica(c);
    const r0 = await gets(replica);
    expect(await c.readFrom("replica").get("k")).toBe("v");
    expect((await gets(replica)) - r0).toBe(1);
    const lonely = new ShardedClient({ shards: [{ name: "solo", master: master.address }] });
    clients.push(lonely);
    await expect(lonely.readFrom("replica").get("k")).rejects.toBeInstanceOf(NoReplicaAvailableError);
    expect(await lonely.readFrom("replicaPreferred").get("k")).toBe("v");
    expect(() => c.readFrom("closest" as never)).toThrow(/readFrom must be one of/);
  });

  it("'any' spreads reads over master and replica", async () => {
    const c = client({ readFrom: "any" });
    await readableReplica(c);
    const [m0, r0] = [await gets(master), await gets(replica)];
    for (let i = 0; i < 40; i++) await c.get("k");
    expect((await gets(master)) - m0).toBeGreaterThan(5);
    expect((await gets(replica)) - r0).toBeGreaterThan(5);
  });

  describe("with the replica's link through a fault proxy", () => {
    let proxy: FaultProxy;
    let slow: RedisServer;

    beforeAll(async () => {
      proxy = await startFaultProxy(master);
      slow = await startRedis({ args: ["--replicaof", "127.0.0.1", String(proxy.port)] });
      servers.push(slow);
      await waitForLink(slow, master);
    });
    afterAll(async () => proxy?.close());

    const slowClient = (options: Partial<ConstructorParameters<typeof ShardedClient>[0]> = {}) => {
      const c = new ShardedClient({
        shards: [{ name: "s0", master: master.address, replicas: [slow.address] }],
        healthCheckIntervalMs: 50,
        ...options,
      });
      clients.push(c);
      return c;
    };

    it("skips a replica lagging more than maxReplicaLagMs, and reads from it again once it catches up", async () => {
      const c = slowClient({ readFrom: "replicaPreferred", maxReplicaLagMs: 500 });
      await eventually(async () => expect(c.topology().shards[0]!.replicas[0]!.readable).toBe(true), 10_000);
      proxy.set("delay", { delayMs: 1500 });
      // Writes keep the master's offset moving; the replica sees them 1.5 s late.
      const writer = setInterval(() => void master.client().set("tick", String(Date.now())), 20);
      try {
        await eventually(async () => {
          const view = c.topology().shards[0]!.replicas[0]!;
          expect(view.readable).toBe(false);
          expect(view.lagMs!).toBeGreaterThan(500);
        }, 4000);
        const [m0, r0] = [await gets(master), await gets(slow)];
        for (let i = 0; i < 20; i++) await c.get("k");
        expect((await gets(slow)) - r0).toBe(0);
        expect((await gets(master)) - m0).toBe(20);
      } finally {
        clearInterval(writer);
        proxy.set("pass");
      }
      await eventually(async () => expect(c.topology().shards[0]!.replicas[0]!.readable).toBe(true), 5000);
    });

    it("'nearest' prefers the node that answers faster", async () => {
      // The same replica, once through a slow path and once direct, against a master reached the other way.
      const replicaProxy = await startFaultProxy(slow);
      const masterProxy = await startFaultProxy(master);
      try {
        replicaProxy.set("delay", { delayMs: 15 });
        const preferMaster = slowClient({ readFrom: "nearest" });
        const viaSlowReplica = new ShardedClient({
          shards: [{ name: "s0", master: master.address, replicas: [replicaProxy.address] }],
          readFrom: "nearest",
          healthCheckIntervalMs: 50,
        });
        masterProxy.set("delay", { delayMs: 15 });
        const viaSlowMaster = new ShardedClient({
          shards: [{ name: "s0", master: masterProxy.address, replicas: [slow.address] }],
          readFrom: "nearest",
          healthCheckIntervalMs: 50,
        });
        clients.push(viaSlowReplica, viaSlowMaster);
        for (const c of [preferMaster, viaSlowReplica, viaSlowMaster]) {
          await eventually(async () => expect(c.topology().shards[0]!.replicas[0]!.readable).toBe(true), 10_000);
        }
        // The moving averages have seen the slow paths: each client rates its delayed node slower.
        await eventually(async () => {
          const [toReplica, toMaster] = [viaSlowReplica.topology().shards[0]!, viaSlowMaster.topology().shards[0]!];
          expect(toReplica.replicas[0]!.latencyMs!).toBeGreaterThan(toReplica.master!.latencyMs! + 5);
          expect(toMaster.master!.latencyMs!).toBeGreaterThan(toMaster.replicas[0]!.latencyMs! + 5);
        }, 5000);
        const [m0, r0] = [await gets(master), await gets(slow)];
        for (let i = 0; i < 20; i++) await viaSlowReplica.get("k");
        expect((await gets(master)) - m0).toBe(20);
        const r1 = await gets(slow);
        for (let i = 0; i < 20; i++) await viaSlowMaster.get("k");
        expect((await gets(slow)) - r1).toBe(20);
        expect(r1 - r0).toBe(0);
        const view = viaSlowMaster.topology().shards[0]!;
        expect(view.master!.latencyMs!).toBeGreaterThan(view.replicas[0]!.latencyMs!);
      } finally {
        await replicaProxy.close();
        await masterProxy.close();
      }
    });
  });

  it("a read the replica's opening breaker sends on to the master keeps its own deadline", async () => {
    // The replica through a proxy that can cut it off; the read is retried once, late, on the replica's connection.
    const proxy = await startFaultProxy(replica);
    const c = new ShardedClient({
      shards: [{ name: "s0", master: master.address, replicas: [proxy.address] }],
      readFrom: "replicaPreferred",
      healthCheckIntervalMs: 50,
      commandTimeoutMs: 2000,
      breaker: { stallMs: 60_000 },
      retry: { attempts: 1, baseDelayMs: 1000, maxDelayMs: 1000 },
    });
    clients.push(c);
    try {
      await readableReplica(c);
      // The master hangs: a read sent there waits out whatever deadline it carries.
      master.signal("SIGSTOP");
      // The read reaches the replica's connection and goes unanswered; then that connection is cut.
      proxy.set("blackhole");
      const before = proxy.bytesFromClients;
      const started = performance.now();
      const read = c.get("k").catch((e: unknown) => e);
      await eventually(async () => expect(proxy.bytesFromClients).toBeGreaterThan(before), 1000);
      proxy.set("reset");
      const outcome = await read;
      const elapsed = performance.now() - started;
      expect((outcome as ShardisError).code).toBe("ERR_SHARDIS_TIMEOUT");
      // It went to the replica, was lost, retried when the replica's breaker was open, then sent to the master:
      // all within the 2000 ms it was given (it used to get 2000 ms more at the master).
      expect(elapsed).toBeLessThan(2000 + 400);
    } finally {
      master.signal("SIGCONT");
      await proxy.close();
    }
  });

  it("keeps serving replicaPreferred reads with zero errors while the master is down", async () => {
    const c = client({ readFrom: "replicaPreferred" });
    await readableReplica(c);
    master.signal("SIGSTOP");
    let errors = 0;
    let reads = 0;
    try {
      const until = Date.now() + 2000;
      while (Date.now() < until) {
        await c.get("k").then(
          (v) => {
            expect(v).toBe("v");
            reads++;
          },
          () => errors++,
        );
        await sleep(5);
      }
    } finally {
      master.signal("SIGCONT");
    }
    expect(reads).toBeGreaterThan(100);
    expect(errors).toBe(0);
  });
});
