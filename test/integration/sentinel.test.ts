/**
 * Sentinel-managed shards on real redis-server and redis-sentinel processes:
 * discovery, failover under load, write concern, reads through an outage,
 * and what a sentinel may send the client to.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardedClient, ShardisError, TimeoutError, WriteConcernError } from "../../lib/index.js";
import { startHaTopology, type HaTopology } from "../support/sentinel.js";
import { startFaultProxy } from "../support/faultProxy.js";
import { eventually, keyOn, READY_MS } from "../support/keys.js";
import { killMasterUnderWrites } from "../support/failover.js";
import { sleep, watchUnhandled } from "../support/fleet.js";

describe("Sentinel: discovery and failover", () => {
  let ha: HaTopology;
  const clients: ShardedClient[] = [];
  const unhandled = watchUnhandled();

  const client = (options: Partial<ConstructorParameters<typeof ShardedClient>[0]> = {}) => {
    const c = new ShardedClient({
      sentinels: ha.sentinels.map((s) => s.address),
      shards: ha.shards.map((s, i) => ({ name: `s${i}`, masterName: s.masterName })),
      ...options,
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    ha = await startHaTopology({ shards: 3, replicasPerShard: 1, sentinels: 3 });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    unhandled.stop();
    await ha?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("discovers every master and replica; commands issued before that wait and succeed", async () => {
    const c = client();
    // Issued in the constructor's turn, before any sentinel has answered.
    const early = await Promise.all([c.set("early:1", "a"), c.get("early:1"), c.mset({ "early:2": "b", "early:3": "c" })]);
    expect(early).toEqual(["OK", "a", "OK"]);
    await c.ready();
    const view = c.topology();
    expect(view.epoch).toBeGreaterThan(1);
    view.shards.forEach((shard, i) => {
      expect(shard.master!.address).toBe(ha.shards[i]!.master.address);
      expect(shard.replicas.map((r) => r.address)).toEqual(ha.shards[i]!.replicas.map((r) => r.address));
    });
    for (const key of ["early:1", "early:2", "early:3"]) {
      const owner = Number(c.shardOf(key).slice(1));
      expect(await ha.shards[owner]!.master.client().exists(key)).toBe(1);
    }
  });

  it("learns the other sentinels and keeps working when the configured one is gone", async () => {
    const c = new ShardedClient({
      sentinels: [ha.sentinels[0]!.address],
      shards: ha.shards.map((s, i) => ({ name: `s${i}`, masterName: s.masterName })),
    });
    clients.push(c);
    await c.ready();
    await eventually(async () => expect([...c.topology().sentinels].sort()).toEqual(ha.sentinels.map((s) => s.address).sort()));
    // A client whose first sentinel is dead rotates to the next.
    const rotating = new ShardedClient({
      sentinels: ["127.0.0.1:1", ha.sentinels[1]!.address],
      shards: ha.shards.map((s, i) => ({ name: `s${i}`, masterName: s.masterName })),
      commandTimeoutMs: 3000,
    });
    clients.push(rotating);
    expect(await rotating.set("rotated", "1")).toBe("OK");
  });

  it("reports learned sentinels outside allowedAddresses as refused, and names a sentinel in every sentinel:error", async () => {
    const nodes = ha.shards.flatMap((s) => [s.master.address, ...s.replicas.map((r) => r.address)]);
    const refused: Array<{ address: string; reason: string }> = [];
    const errors: string[] = [];
    const c = new ShardedClient({
      sentinels: ["127.0.0.1:1", ha.sentinels[0]!.address],
      shards: ha.shards.map((s, i) => ({ name: `s${i}`, masterName: s.masterName })),
      allowedAddresses: [...nodes, ha.sentinels[0]!.address],
      topologyRefreshMs: 200,
    });
    clients.push(c);
    c.on("topology:refused", (e) => refused.push(e));
    c.on("sentinel:error", (e) => errors.push(e.sentinel));
    await c.ready();
    const peers = ha.sentinels.slice(1).map((s) => s.address).sort();
    await eventually(async () => expect([...new Set(refused.map((r) => r.address))].sort()).toEqual(peers));
    expect(refused.every((r) => r.reason.startsWith("sentinel peer: ") && r.reason.includes("not in allowedAddresses"))).toBe(true);
    expect(refused.filter((r) => peers.includes(r.address))).toHaveLength(peers.length);
    expect([...c.topology().sentinels].sort()).toEqual(["127.0.0.1:1", ha.sentinels[0]!.address].sort());
    expect(errors.length).toBeGreaterThan(0);
    for (const sentinel of errors) expect(sentinel).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it("refuses addresses outside allowedAddresses, and maps them with natMap", async () => {
    const refused: Array<{ shard: string; address: string }> = [];
    const fenced = client({ allowedAddresses: ["10.0.0.1:*"], commandTimeoutMs: 300 });
    fenced.on("topology:refused", (e) => refused.push(e));
    const error = await fenced.get("k").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toContain("Sentinel has not named the master");
    expect(refused.map((r) => r.address)).toContain(ha.shards[Number(fenced.shardOf("k").slice(1))]!.master.address);

    // natMap rewrites what sentinels report; the rewritten address must still be allowed.
    const target = ha.shards[0]!.master.address;
    const mapped = client({
      natMap: (address) => (address === target ? `localhost:${target.split(":")[1]}` : address),
      allowedAddresses: ["localhost:*", "127.0.0.1:*"],
    });
    await mapped.ready();
    expect(mapped.topology().shards[0]!.master!.address).toBe(`localhost:${target.split(":")[1]}`);
  });

  it("fails over: writes succeed again after +switch-master, failures are typed, and nothing else breaks", async () => {
    const c = client();
    c.defineCommand("bump", { lua: "return redis.call('INCR', KEYS[1])", numberOfKeys: 1 });
    await c.ready();
    const shard = 1;
    const key = keyOn(c, `s${shard}`, "failover");
    const channel = keyOn(c, `s${shard}`, "news");
    const heard: string[] = [];
    await c.subscribe(channel, { handler: (message) => heard.push(message) });
    const failovers: unknown[] = [];
    c.on("failover", (e) => failovers.push(e));

    // How soon writes come back is measured in test/timing (failover.test.ts), away from parallel load.
    const run = await killMasterUnderWrites(ha, c, shard, key);
    // Every failed write failed with a typed error; none was silently retried.
    expect(run.outcomes.filter((o) => !o.ok && !(o.error instanceof ShardisError))).toEqual([]);
    expect(failovers).toEqual([{ shard: "s1", from: ha.shards[shard]!.master.address, to: ha.shards[shard]!.replicas[0]!.address }]);
    expect(c.topology().shards[shard]!.master!.address).toBe(ha.shards[shard]!.replicas[0]!.address);
    // The failover shows in the counts: once for this shard, never for the others.
    expect(c.stats().shards.map((s) => s.failovers)).toEqual([0, 1, 0]);
    expect(c.stats().shards[1]!.topologyChanges).toBeGreaterThanOrEqual(1);

    // Scripts and subscriptions carry on on the new master.
    expect(await (c as unknown as { bump(k: string): Promise<number> }).bump(`${key}:n`)).toBe(1);
    await eventually(async () => {
      await c.publish(channel, "after-failover");
      expect(heard).toContain("after-failover");
    });
  });

  it("reads under replicaPreferred keep succeeding with zero errors through a master's death and failover", async () => {
    const c = client({ readFrom: "replicaPreferred" });
    await c.ready();
    const shard = 2;
    const key = keyOn(c, `s${shard}`, "outage");
    await c.set(key, "v");
    await eventually(async () => expect(c.topology().shards[shard]!.replicas[0]!.readable).toBe(true));
    let reads = 0;
    const errors: string[] = [];
    ha.shards[shard]!.master.signal("SIGKILL");
    const until = performance.now() + 4000;
    // At least 4 s (the master's death, then the failover) and more than 300 reads: a busy machine reads fewer in 4 s.
    for (let i = 0; i < 5000 && (performance.now() < until || reads + errors.length <= 300); i++) {
      await c.get(key).then(
        (value) => {
          expect(value).toBe("v");
          reads++;
        },
        (error: Error) => errors.push(error.message),
      );
      await sleep(5);
    }
    expect(errors).toEqual([]);
    expect(reads).toBeGreaterThan(300);
  });

  it("with writeConcern, no acknowledged write is lost across a SIGKILL failover", async () => {
    const c = client({ writeConcern: { replicas: 1, timeoutMs: 50 }, commandTimeoutMs: 500 });
    await c.ready(READY_MS);
    const shard = 0;
    const tag = keyOn(c, `s${shard}`, "wc");
    const acknowledged: string[] = [];
    const failures: Record<string, number> = {};
    let writing = true;
    const stopAt = performance.now() + 30_000;
    const writer = (async () => {
      for (let i = 0; writing && performance.now() < stopAt; i++) {
        const key = `{${tag}}:${i}`;
        await c.set(key, "1").then(
          () => acknowledged.push(key),
          (error: ShardisError) => {
            failures[error.code] = (failures[error.code] ?? 0) + 1;
            return sleep(5);
          },
        );
      }
    })();
    const oldMaster = ha.shards[shard]!.master;
    const promoted = ha.shards[shard]!.replicas[0]!;
    try {
      await eventually(async () => expect(acknowledged.length).toBeGreaterThan(100));
      oldMaster.signal("SIGKILL");
      await eventually(async () => expect(c.topology().shards[shard]!.master!.address).toBe(promoted.address), 15_000);
      // The new master has no replica yet: every write is applied but fails its concern, and says so.
      const noReplica = await c.set(`{${tag}}:lonely`, "1").catch((e: unknown) => e);
      expect(noReplica).toBeInstanceOf(WriteConcernError);
      expect((noReplica as WriteConcernError).acknowledged).toBe(0);
      // The old master comes back; Sentinel makes it a replica of the new one; acknowledgements resume.
      await oldMaster.restart();
      const before = acknowledged.length;
      await eventually(async () => expect(acknowledged.length).toBeGreaterThan(before + 20), 20_000);
      // WAIT counts the old master as soon as it replicates; the client learns it is a replica at its next topology read.
      await eventually(async () => expect(c.topology().shards[shard]!.replicas.map((r) => r.address)).toContain(oldMaster.address), 15_000);
    } finally {
      writing = false;
      await writer;
    }
    console.info(`[writeConcern] ${acknowledged.length} acknowledged writes; failures ${JSON.stringify(failures)}`);
    const pipeline = promoted.client().pipeline();
    for (const key of acknowledged) pipeline.exists(key);
    const found = (await pipeline.exec())!.map(([, n]) => n);
    expect(found.filter((n) => n !== 1)).toEqual([]);
    expect(acknowledged.length).toBeGreaterThan(100);
    expect(Object.keys(failures).every((code) => code.startsWith("ERR_SHARDIS_"))).toBe(true);
  }, 60_000);

  it("a client blind to Sentinel's events still finds the new master: ROLE on reconnect shows the demotion", async () => {
    // A topology of its own: a forced failover must not wait on what earlier tests left Sentinel doing.
    const own = await startHaTopology({ shards: 1, replicasPerShard: 1, sentinels: 3 });
    // The client watches Sentinel through a proxy that can be blinded, so it misses the failover announcement.
    const blind = await startFaultProxy({ host: "127.0.0.1", port: own.sentinels[0]!.port });
    try {
      // No periodic refresh either: what it learns, it learns from the nodes.
      const c = new ShardedClient({
        sentinels: [blind.address],
        shards: [{ name: "s0", masterName: own.shards[0]!.masterName }],
        commandTimeoutMs: 4000,
        topologyRefreshMs: 3_600_000,
      });
      clients.push(c);
      await c.ready();
      // The proxy, plus the two other sentinels it tells about.
      await eventually(async () => expect(c.topology().sentinels.length).toBe(3));
      await sleep(500); // let the start-up refreshes finish before the client goes blind
      const key = "readonly";
      expect(await c.set(key, "before")).toBe("OK");
      const reasons: string[] = [];
      c.on("topology", (e) => reasons.push(e.reason));
      const oldMaster = c.topology().shards[0]!.master!.address;
      blind.set("blackhole");
      const sentinel = own.sentinels[1]!.client();
      expect(await sentinel.call("SENTINEL", "FAILOVER", own.shards[0]!.masterName)).toBe("OK");
      // Sentinel demotes a live old master once it has seen it report the wrong role for 8 s (SENTINEL_PUBLISH_PERIOD * 4).
      await eventually(async () => {
        const [host, port] = (await sentinel.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", own.shards[0]!.masterName)) as string[];
        expect(`${host}:${port}`).not.toBe(oldMaster);
        const demoted = await own.server(oldMaster)!.client().call("ROLE");
        expect((demoted as string[])[0]).toBe("slave");
      }, 30_000).catch((error: Error) => {
        throw new Error(`${error.message}\nsentinel log:\n${own.sentinels[1]!.output()}`);
      });
      // Sentinel killed the demoted master's client connections; on reconnect ROLE says "slave".
      expect(await c.set(key, "after")).toBe("OK");
      const newMaster = c.topology().shards[0]!.master!.address;
      expect(newMaster).not.toBe(oldMaster);
      expect(await own.server(newMaster)!.client().get(key)).toBe("after");
      expect(reasons).toContain("a node's ROLE differs from the layout");
    } finally {
      await blind.close();
      await own.stop();
    }
  }, 60_000);
});
