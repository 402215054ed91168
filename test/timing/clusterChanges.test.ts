/**
 * A Redis Cluster changing under a steady read/write load: slots resharded
 * live (redis-cli --cluster reshard), scale-out from 3 to 6 masters
 * (add-node, then rebalance), and a master killed (the cluster promotes its
 * replica). No command may fail while slots move, p99 stays within 3x of
 * the steady state, the load follows the new masters, and after a failover
 * writes come back within 200 ms of the replica's promotion.
 *
 * In the timing project (run alone): six to nine redis-server processes,
 * redis-cli and the load share two cores here, and a node starved of CPU for
 * 500 ms trips its breaker (by design) whatever the client does.
 */
import { afterEach, describe, expect, it } from "vitest";
import { keySlot, ShardedClient, ShardisError } from "../../lib/index.js";
import { startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";
import { eventually } from "../support/keys.js";
import { percentile, SteadyLoad } from "../support/load.js";

const KEYS = Array.from({ length: 2000 }, (_, i) => `load:${i}`);

/** p99 of successful commands that started in [from, to). */
function p99Of(load: SteadyLoad, from: number, to: number): number {
  return percentile(load.latencies("all", from, to), 0.99);
}

/** p99 of the settled cluster under the load: about 2 s of commands, after half a second of warm-up (connections, JIT). */
async function steadyP99(load: SteadyLoad): Promise<number> {
  await eventually(async () => expect(load.ops.length).toBeGreaterThan(500), 10_000);
  const from = performance.now();
  const enough = load.ops.length + 2000;
  await eventually(async () => expect(load.ops.length).toBeGreaterThan(enough), 10_000);
  return p99Of(load, from, performance.now());
}

/** Outcomes of a load run, for assertions and the log line. */
function summary(load: SteadyLoad) {
  const failed = load.ops.filter((op) => op.error);
  const latencies = load.ops.filter((op) => !op.error && op.end !== undefined).map((op) => op.end! - op.start);
  return { total: load.ops.length, failed, p99: percentile(latencies, 0.99) };
}

describe("a Redis Cluster changing under load", () => {
  const clusters: RedisClusterHandle[] = [];
  const clients: ShardedClient[] = [];
  // Each test's cluster stops when it ends: on two cores, leftover nodes would weigh on the next test's timings.
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.quit()));
    await Promise.all(clusters.splice(0).map((c) => c.stop()));
  });

  async function setUp(masters: number, replicas = 0, nodeTimeoutMs?: number) {
    const cluster = await startRedisCluster(masters, { replicas, nodeTimeoutMs });
    clusters.push(cluster);
    const client = new ShardedClient({ cluster: { seeds: cluster.seeds }, commandTimeoutMs: 2000 });
    clients.push(client);
    await client.ready();
    await client.mset(Object.fromEntries(KEYS.map((k) => [k, "v"])));
    return { cluster, client };
  }

  it("reshards live with zero failed commands, following MOVED and ASK, p99 within 3x of steady state", async () => {
    const { cluster, client } = await setUp(3);
    const load = new SteadyLoad(client, { all: KEYS }, 2, 2);
    load.start();
    let steady = 0;
    let migrationFrom = 0;
    let migrationTo = 0;
    try {
      // Steady state first.
      steady = await steadyP99(load);
      migrationFrom = performance.now();
      await cluster.reshard(cluster.masters[0]!, cluster.masters[1]!, 1500);
      await cluster.reshard(cluster.masters[2]!, cluster.masters[0]!, 800);
      migrationTo = performance.now();
    } finally {
      await load.stop();
    }
    const { total, failed } = summary(load);
    const during = p99Of(load, migrationFrom, migrationTo);
    const redirects = client.stats().shards.reduce((n, s) => n + s.redirects.moved + s.redirects.ask, 0);
    console.info(
      `[reshard] ${total} commands, ${failed.length} failed, ${redirects} redirects followed; ` +
        `p99 steady ${steady.toFixed(2)} ms, during the migration ${during.toFixed(2)} ms (${Math.round(migrationTo - migrationFrom)} ms)`,
    );
    expect([...new Set(failed.map((op) => op.error!.message))].slice(0, 5)).toEqual([]);
    expect(during).toBeLessThanOrEqual(3 * steady);
    expect(redirects).toBeGreaterThan(0);
    // The client's map agrees with the cluster's at the end. With the load stopped, a slot moved after the last
    // command that touched it is learnt at the next periodic refresh (topologyRefreshMs, 10 s), not by a MOVED:
    // waited for up to 15 s (5 s failed once in CI, the map one refresh behind; commands follow MOVED meanwhile).
    await cluster.waitUntilStable();
    await eventually(async () => {
      const owner = new Map(client.topology().shards.map((s) => [s.name, s.master!.address]));
      for (const key of KEYS.slice(0, 50)) {
        const slot = keySlot(key);
        expect(owner.get(client.explain("get", key).parts[0]!.shard), `slot ${slot}`).toBe(await cluster.ownerOf(slot));
      }
    }, 15_000);
  }, 120_000);

  it("scales out from 3 to 6 masters live: the new masters become shards and take traffic, nothing fails", async () => {
    const { cluster, client } = await setUp(3);
    const load = new SteadyLoad(client, { all: KEYS }, 2, 2);
    load.start();
    let added: string[] = [];
    let steady = 0;
    let from = 0;
    let to = 0;
    try {
      steady = await steadyP99(load);
      from = performance.now();
      // One at a time: redis-cli's add-node checks that every node agrees first, which a concurrent add breaks.
      for (let i = 0; i < 3; i++) added.push((await cluster.addMaster()).address);
      await cluster.rebalance();
      await cluster.waitUntilStable();
      to = performance.now();
      // Keep the load on the new layout for a moment: every shard must be taking commands.
      const target = load.ops.length + 2000;
      await eventually(async () => expect(load.ops.length).toBeGreaterThan(target), 10_000);
    } finally {
      await load.stop();
    }
    const { total, failed } = summary(load);
    const during = p99Of(load, from, to);
    console.info(
      `[scale-out] ${total} commands, ${failed.length} failed; p99 steady ${steady.toFixed(2)} ms, during add-node and rebalance ${during.toFixed(2)} ms (${Math.round(to - from)} ms)`,
    );
    expect([...new Set(failed.map((op) => op.error!.message))].slice(0, 5)).toEqual([]);
    expect(during).toBeLessThanOrEqual(3 * steady);
    const view = client.topology();
    expect(view.shards).toHaveLength(6);
    const stats = client.stats();
    for (const address of added) {
      const shard = view.shards.find((s) => s.master?.address === address);
      expect(shard, `a shard for ${address}`).toBeDefined();
      const ok = stats.shards.find((s) => s.name === shard!.name)!.commands.ok;
      expect(ok, `commands on ${shard!.name}`).toBeGreaterThan(0);
    }
  }, 180_000);

  it("follows a failover inside the cluster: the shard keeps its name, commands are back within 200 ms of the replica's promotion", async () => {
    const { cluster, client } = await setUp(3, 1, 1000);
    const victim = cluster.masters[1]!;
    const shardName = client.topology().shards.find((s) => s.master!.address === victim.address)!.name;
    const replica = cluster.server(client.topology().shards.find((s) => s.name === shardName)!.replicas[0]!.address)!;
    const keys = KEYS.filter((k) => client.shardOf(k) === shardName).slice(0, 200);
    const load = new SteadyLoad(client, { victim: keys }, 2, 2);
    // The replica's own view: when it says "master", the cluster has promoted it.
    const probe = replica.client();
    let promotedAt = 0;
    load.start();
    try {
      await eventually(async () => expect(load.ops.length).toBeGreaterThan(200));
      const killedAt = performance.now();
      victim.signal("SIGKILL");
      for (const deadline = performance.now() + 20_000; !promotedAt && performance.now() < deadline; ) {
        if (((await probe.call("ROLE")) as string[])[0] === "master") promotedAt = performance.now();
        else await new Promise((resolve) => setTimeout(resolve, 5)); // polling the replica, bounded by the deadline
      }
      expect(promotedAt).toBeGreaterThan(0);
      await eventually(async () => expect(load.ops.some((op) => op.start > promotedAt && op.end !== undefined && !op.error)).toBe(true), 5000);
      const firstOk = Math.min(...load.ops.filter((op) => op.end !== undefined && op.end > promotedAt && !op.error).map((op) => op.end!));
      console.info(
        `[cluster failover] kill -> replica promoted ${Math.round(promotedAt - killedAt)} ms, -> first successful command ${Math.round(firstOk - promotedAt)} ms`,
      );
      expect(firstOk - promotedAt).toBeLessThanOrEqual(200);
    } finally {
      await load.stop();
    }
    expect(client.topology().shards.find((s) => s.name === shardName)!.master!.address).toBe(replica.address);
    const failed = load.ops.filter((op) => op.error);
    expect(failed.filter((op) => !(op.error instanceof ShardisError)).map((op) => op.error!.message)).toEqual([]);
    expect(client.stats().shards.find((s) => s.name === shardName)!.failovers).toBe(1);
  }, 120_000);
});
