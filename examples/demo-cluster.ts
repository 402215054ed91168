/**
 * npm run demo -- --cluster: the same client over a Redis Cluster that
 * grows and then loses a master, under load.
 *
 * Starts a local cluster of 3 masters with a replica each (cluster-enabled
 * redis-servers on free loopback ports, `redis-cli --cluster create`), runs
 * a mixed workload through one ShardedClient, then, live:
 *   1. adds 3 masters (`redis-cli --cluster add-node`) and rebalances slots
 *      onto them (`redis-cli --cluster rebalance`): slots migrate under the
 *      load, MOVED and ASK are followed, and no command fails;
 *   2. kills a master (SIGKILL): the cluster promotes its replica, and the
 *      client follows it (the shard keeps its name).
 * The table shows each shard's master, slots, ops/s, latency and errors;
 * below it, redirects followed and each phase as it happens. About 40 s:
 * DEMO_SECONDS (default 11) is the time under plain load around the two
 * phases, the cluster's own work (add-node, rebalance, failover) takes the
 * rest. Stops everything it started.
 */
import { ShardedClient, type ShardisError } from "shardis";
import { ensureServers, startRedisCluster, type RedisServer } from "./local.js";
import { LiveView } from "./support/liveView.js";
import { ShardStats } from "./support/stats.js";
import { MIX, startWorkers } from "./support/workload.js";

const IN_FLIGHT = 64;
const KEYS = 50_000;
/** The cluster marks a silent master failed after this (cluster-node-timeout), then its replica takes over. */
const NODE_TIMEOUT_MS = 1000;
/**
 * cluster-node-timeout until the kill: on a starved machine a master can be silent for over a second, and a
 * failover in the middle of the rebalance made redis-cli stop ("ERR Please use SETSLOT only with masters").
 */
const CALM_NODE_TIMEOUT_MS = 5000;
const SECONDS = Number(process.env.DEMO_SECONDS ?? 11);
if (!(SECONDS >= 1 && SECONDS <= 3600)) throw new Error(`DEMO_SECONDS must be a number of seconds from 1 to 3600 (got ${process.env.DEMO_SECONDS})`);
/** Load before the scale-out, after the rebalance, and after the failover: 5 s, 3 s, 3 s by default. */
const PAUSES_MS = [5, 3, 3].map((share) => Math.round((SECONDS * 1000 * share) / 11));

type Phase = "steady" | "scale-out" | "failover";

export async function clusterDemo(): Promise<void> {
  ensureServers();
  const view = new LiveView();
  view.log("starting a Redis Cluster: 3 masters with a replica each, on free loopback ports...");
  const cluster = await startRedisCluster(3, { replicas: 1, nodeTimeoutMs: CALM_NODE_TIMEOUT_MS });
  const client = new ShardedClient({ cluster: { seeds: cluster.seeds }, readFrom: "replicaPreferred" });
  // Bounded by more than one command's deadline (1 s): a starved machine took longer to read the new cluster's map.
  await client.ready(15_000);
  const started = performance.now();
  const since = (at = performance.now()) => `${((at - started) / 1000).toFixed(2)}s`;
  const stats = new Map<string, ShardStats>();
  const statsOf = (shard: string) => stats.get(shard) ?? stats.set(shard, new ShardStats()).get(shard)!;
  let phase: Phase = "steady";
  const errors = new Map<string, number>();
  const timeline = { killAt: 0, promotedAt: 0, firstWriteAt: 0, victim: "" };

  for (const shard of client.topology().shards) {
    view.log(`${shard.name}: master ${shard.master!.address}, replica ${shard.replicas[0]?.address ?? "-"}, ${shard.slots} slots`);
  }
  view.log(`workload: ${MIX} (reads from replicas when fit); ${IN_FLIGHT} in flight\n`);
  client.on("failover", (e) => {
    if (e.shard === timeline.victim && !timeline.promotedAt) timeline.promotedAt = performance.now();
    view.log(`[${since()}] failover: ${e.shard} ${e.from} -> ${e.to} (its replica, promoted by the cluster)`);
  });
  client.on("breaker", (e) => view.log(`[${since()}] breaker ${e.state}: ${e.shard} ${e.node}`));

  let total = 0;
  const workers = startWorkers(client, { inflight: IN_FLIGHT, keys: KEYS, valueBytes: 100 }, (op, shard, ms, error) => {
    total++;
    if (error) {
      const code = `${phase}: ${(error as ShardisError).code ?? (error as Error).name}`;
      errors.set(code, (errors.get(code) ?? 0) + 1);
    } else if (op.setsKey && shard === timeline.victim && timeline.promotedAt && !timeline.firstWriteAt) timeline.firstWriteAt = performance.now();
    statsOf(shard).record(ms, !error);
  });

  let last = performance.now();
  const render = (final = false) => {
    const now = performance.now();
    const seconds = (now - last) / 1000;
    last = now;
    const topology = client.topology();
    const redirects = client.stats().shards.reduce((r, s) => ({ moved: r.moved + s.redirects.moved, ask: r.ask + s.redirects.ask }), { moved: 0, ask: 0 });
    const failed = [...errors.values()].reduce((a, b) => a + b, 0);
    const lines = [
      `shard     master              slots  breaker    ops/s   p50 ms   p99 ms  errors`,
      ...topology.shards.map((shard) => {
        const t = statsOf(shard.name).take();
        const master = shard.master;
        return `${shard.name.padEnd(9)} ${(master?.address ?? "?").padEnd(19)} ${String(shard.slots ?? 0).padStart(5)}  ${(master?.breaker ?? "-").padEnd(8)} ${String(Math.round(t.ops / seconds)).padStart(7)} ${t.p50.toFixed(2).padStart(8)} ${t.p99.toFixed(2).padStart(8)} ${String(t.errors).padStart(7)}`;
      }),
      `${since(now)} ${phase}: ${total} operations, ${failed} failed; redirects followed: ${redirects.moved} MOVED, ${redirects.ask} ASK; map epoch ${topology.epoch}`,
    ];
    view.show(lines, final);
  };
  const ticker = setInterval(render, 1000);
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  try {
    await pause(PAUSES_MS[0]!);

    phase = "scale-out";
    const slotsBefore = new Map(client.topology().shards.map((s) => [s.name, s.slots ?? 0]));
    view.log(`[${since()}] adding 3 masters (redis-cli --cluster add-node)...`);
    // One after another, each once every node knows every other (addMaster waits): three add-nodes at once make
    // redis-cli refuse with "Nodes don't agree about configuration!".
    const added: RedisServer[] = [];
    for (let i = 0; i < 3; i++) added.push(await cluster.addMaster());
    view.log(`[${since()}] added ${added.map((s) => s.address).join(", ")} (no slots yet); rebalancing (redis-cli --cluster rebalance)...`);
    const rebalanceFrom = performance.now();
    await cluster.rebalance();
    await cluster.waitUntilStable();
    // The client's map follows the cluster's: wait (bounded) until every added master serves slots in it.
    for (const until = performance.now() + 10_000; performance.now() < until; await pause(100)) {
      if (added.every((s) => (client.topology().shards.find((v) => v.master?.address === s.address)?.slots ?? 0) > 0)) break;
    }
    const moved = client.topology().shards.reduce((n, s) => n + Math.max(0, (s.slots ?? 0) - (slotsBefore.get(s.name) ?? 0)), 0);
    const scaleOutErrors = [...errors].filter(([code]) => code.startsWith("scale-out")).reduce((n, [, count]) => n + count, 0);
    view.log(`[${since()}] rebalanced: ${moved} slots migrated live in ${((performance.now() - rebalanceFrom) / 1000).toFixed(1)}s, ${scaleOutErrors} failed commands`);
    await pause(PAUSES_MS[1]!);

    // Only now the short node timeout, so the kill below is failed over quickly.
    await Promise.all(cluster.servers.map((s) => s.client().config("SET", "cluster-node-timeout", String(NODE_TIMEOUT_MS))));
    phase = "failover";
    const victim = client
      .topology()
      .shards.filter((s) => s.replicas.length > 0)
      .sort((a, b) => (b.slots ?? 0) - (a.slots ?? 0))[0]!;
    timeline.victim = victim.name;
    timeline.killAt = performance.now();
    cluster.server(victim.master!.address)!.signal("SIGKILL");
    view.log(`[${since()}] SIGKILL to ${victim.name}'s master ${victim.master!.address} (${victim.slots} slots); the cluster fails it over after ${NODE_TIMEOUT_MS} ms of silence`);
    for (const until = performance.now() + 20_000; !timeline.firstWriteAt && performance.now() < until; ) await pause(50);
    view.log(`[${since()}] ${failoverLine(timeline)}`);
    await pause(PAUSES_MS[2]!);
  } finally {
    clearInterval(ticker);
    await workers.stop();
    render(true);
    await client.quit();
    await cluster.stop();
  }

  view.log("");
  view.log(`done: ${total} operations in ${since()}.`);
  view.log(`failover: ${failoverLine(timeline)}`);
  view.log(`errors by phase and code: ${errors.size ? [...errors].map(([code, n]) => `${code} ${n}`).join(", ") : "none"}`);
  view.log("stopped every process it started.");
  if (!timeline.firstWriteAt) throw new Error("the failover did not complete within 20 s");
}

function failoverLine(t: { killAt: number; promotedAt: number; firstWriteAt: number }): string {
  if (!t.promotedAt) return "the killed master's replica was not promoted (yet)";
  const promoted = Math.round(t.promotedAt - t.killAt);
  if (!t.firstWriteAt) return `kill -> replica promoted ${promoted} ms, waiting for a write`;
  return `kill -> replica promoted (in the client's map) ${promoted} ms -> first write ${Math.round(t.firstWriteAt - t.promotedAt)} ms`;
}
