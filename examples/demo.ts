/**
 * npm run demo: a sharded cache that loses a master and carries on.
 *
 * Starts three shards (a redis-server master and a replica each) and three
 * redis-sentinel processes on free loopback ports, runs a mixed workload
 * through one ShardedClient (reads from replicas when they are fit), kills one
 * master partway through, and shows the failover live: the time from the kill
 * to Sentinel's +switch-master to the first successful write, and the errors
 * seen. About 20 s (DEMO_SECONDS to change); stops everything it started.
 *
 * npm run demo -- --cluster runs the Redis Cluster demo instead (demo-cluster.ts);
 * npm run demo -- --grow a plain fleet grown live, 3 -> 4 shards (demo-grow.ts).
 */
import { NodeError, PartialFailureError, ShardedClient, type ShardisError } from "shardis";
import { ensureServers, startHaTopology } from "./local.js";
import { LiveView } from "./support/liveView.js";
import { ShardStats } from "./support/stats.js";
import { MIX, startWorkers } from "./support/workload.js";

const SECONDS = Number(process.env.DEMO_SECONDS ?? 20);
if (!(SECONDS >= 1 && SECONDS <= 3600)) throw new Error(`DEMO_SECONDS must be a number of seconds from 1 to 3600 (got ${process.env.DEMO_SECONDS})`);
const IN_FLIGHT = 64;
const KEYS = 50_000;
const VICTIM = 1;

async function main(): Promise<void> {
  ensureServers();
  const view = new LiveView();
  view.log("starting 3 shards (master + replica each) and 3 sentinels on free loopback ports...");
  const ha = await startHaTopology({ shards: 3, replicasPerShard: 1, sentinels: 3 });
  const client = new ShardedClient({
    sentinels: ha.sentinels.map((s) => s.address),
    shards: ha.shards.map((s, i) => ({ name: `s${i}`, masterName: s.masterName })),
    readFrom: "replicaPreferred",
  });
  await client.ready();
  const names = ha.shards.map((_, i) => `s${i}`);
  const stats = new Map(names.map((name) => [name, new ShardStats()]));
  const errors = new Map<string, number>();
  const timeline = { killAt: 0, switchAt: 0, firstWriteAt: 0 };
  const started = performance.now();
  const since = (at: number) => `${((at - started) / 1000).toFixed(2)}s`;

  client.on("failover", (e) => {
    if (e.shard === names[VICTIM] && !timeline.switchAt) timeline.switchAt = performance.now();
    view.log(`[${since(performance.now())}] failover: ${e.shard} ${e.from} -> ${e.to} (Sentinel's +switch-master)`);
  });
  client.on("breaker", (e) => view.log(`[${since(performance.now())}] breaker ${e.state}: ${e.shard} ${e.node}`));
  view.log(`sentinels: ${ha.sentinels.map((s) => s.address).join("  ")}`);
  for (const [i, shard] of ha.shards.entries()) {
    view.log(`s${i} (${shard.masterName}): master ${shard.master.address}, replica ${shard.replicas[0]!.address}`);
  }
  view.log(`workload: ${MIX} (reads from replicas); ${IN_FLIGHT} in flight, ${SECONDS}s`);
  view.log(`the master of s${VICTIM} will be killed (SIGKILL) at ${(SECONDS / 3).toFixed(1)}s\n`);

  let total = 0;
  const workers = startWorkers(client, { inflight: IN_FLIGHT, keys: KEYS, valueBytes: 100 }, (op, keyShard, ms, error) => {
    total++;
    if (error) {
      const code = (error as ShardisError).code ?? (error as Error).name;
      errors.set(code, (errors.get(code) ?? 0) + 1);
    } else if (op.setsKey && keyShard === names[VICTIM] && timeline.switchAt && !timeline.firstWriteAt) timeline.firstWriteAt = performance.now();
    // An MGET spans shards: its latency counts against its first key's shard, its error where it happened.
    stats.get((error ? blame(error) : undefined) ?? keyShard)!.record(ms, !error);
  });

  let last = performance.now();
  const render = async (final = false) => {
    const now = performance.now();
    const seconds = (now - last) / 1000;
    last = now;
    const topology = client.topology();
    const keys = await Promise.all(names.map((name) => client.shard(name).dbsize().catch(() => "down")));
    const lines = [
      `shard  master              breaker    ops/s     keys   p50 ms   p99 ms  errors`,
      ...names.map((name, i) => {
        const t = stats.get(name)!.take();
        const master = topology.shards[i]!.master;
        return `${name.padEnd(6)} ${(master?.address ?? "?").padEnd(19)} ${(master?.breaker ?? "-").padEnd(8)} ${String(Math.round(t.ops / seconds)).padStart(7)} ${String(keys[i]).padStart(8)} ${t.p50.toFixed(2).padStart(8)} ${t.p99.toFixed(2).padStart(8)} ${String(t.errors).padStart(7)}`;
      }),
      `elapsed ${since(now)} / ${SECONDS}s, ${total} operations, topology epoch ${topology.epoch}; ${failoverLine(timeline, since)}`,
    ];
    view.show(lines, final);
  };
  const ticker = setInterval(() => void render(), 1000);
  const killer = setTimeout(() => {
    timeline.killAt = performance.now();
    ha.shards[VICTIM]!.master.signal("SIGKILL");
    view.log(`[${since(timeline.killAt)}] SIGKILL to the master of s${VICTIM} (${ha.shards[VICTIM]!.master.address})`);
  }, (SECONDS / 3) * 1000);
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  // A short run still shows the whole failover: run on until the first write after it (at most 20 s more).
  const overtime = performance.now() + 20_000;
  if (!timeline.firstWriteAt) view.log(`[${since(performance.now())}] running on until the failover completes`);
  while (!timeline.firstWriteAt && performance.now() < overtime) await new Promise((resolve) => setTimeout(resolve, 50));
  clearInterval(ticker);
  clearTimeout(killer);
  await workers.stop();
  await render(true);
  await client.quit();
  await ha.stop();

  view.log("");
  view.log(`done: ${total} operations in ${since(performance.now())}.`);
  view.log(`failover: ${failoverLine(timeline, since)}`);
  view.log(`errors by code: ${errors.size ? [...errors].map(([code, n]) => `${code} ${n}`).join(", ") : "none"}`);
  view.log("stopped every process it started.");
  if (!timeline.firstWriteAt) throw new Error("the failover did not complete within 20 s of the run's end");
}

/** The shard an error happened on, if it names one. */
function blame(error: unknown): string | undefined {
  if (error instanceof NodeError) return error.shard;
  if (error instanceof PartialFailureError) return error.failures[0]?.shard;
  return undefined;
}

function failoverLine(t: { killAt: number; switchAt: number; firstWriteAt: number }, since: (at: number) => string): string {
  if (!t.killAt) return "waiting to kill a master";
  if (!t.switchAt) return `master killed at ${since(t.killAt)}, waiting for Sentinel (down-after 1 s, then an election)`;
  const toSwitch = Math.round(t.switchAt - t.killAt);
  if (!t.firstWriteAt) return `kill -> +switch-master ${toSwitch} ms, waiting for a write`;
  return `kill -> +switch-master ${toSwitch} ms -> first write ${Math.round(t.firstWriteAt - t.switchAt)} ms`;
}

const run = process.argv.includes("--cluster")
  ? import("./demo-cluster.js").then((m) => m.clusterDemo())
  : process.argv.includes("--grow")
    ? import("./demo-grow.js").then((m) => m.growDemo())
    : main();
run.then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
