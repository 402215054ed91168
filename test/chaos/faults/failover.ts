/**
 * Faults on the topology itself: a Sentinel failover (SENTINEL FAILOVER:
 * not coordinated with the old master, so unreplicated writes may be lost),
 * a cluster replica's manual CLUSTER FAILOVER (coordinated: nothing acknowledged
 * may be lost), and a cluster reshard of a slice of slots between two masters
 * (redis-cli --cluster reshard, keys moved with MIGRATE while clients run).
 */
import { askOrError, roleOf } from "../admin.js";
import { redisCli } from "../../support/cluster.js";
import { masterOf, type SlotRanges } from "../health.js";
import { liveTargets } from "./targets.js";
import type { FaultMaker, FaultPlan } from "./types.js";

const SWITCH_WAIT_MS = 15_000;

/** Polls fn until it gives a value, for at most SWITCH_WAIT_MS. */
async function until<T>(fn: () => Promise<T | undefined>): Promise<T | undefined> {
  for (const deadline = Date.now() + SWITCH_WAIT_MS; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    const value = await fn();
    if (value !== undefined) return value;
  }
  return undefined;
}

export const sentinelFailover: FaultMaker = async ({ topology, random }) => {
  const [shard, name] = random.pick([...topology.masterNames]);
  const sentinel = random.pick(topology.sentinels);
  const plan: FaultPlan = {
    kind: "SENTINEL FAILOVER",
    target: name,
    detail: `shard ${shard}, asked of sentinel ${sentinel.address}`,
    held: false,
    loss: "async",
    shard,
    notes: [],
    async inject() {
      const before = await masterOf(topology, shard);
      const reply = await askOrError(sentinel.address, "SENTINEL", "FAILOVER", name);
      if (reply !== "OK") return void plan.notes.push(`refused (${reply instanceof Error ? reply.message : String(reply)})`);
      // The reply comes first, the switch after: the fault lasts until the Sentinels name another master.
      const after = await until(async () => {
        const now = await masterOf(topology, shard);
        return now && now !== before ? now : undefined;
      });
      plan.notes.push(after ? `${before} -> ${after}` : `${before} still master after ${SWITCH_WAIT_MS} ms`);
    },
    async heal() {},
  };
  return plan;
};

export const clusterFailover: FaultMaker = async ({ topology, random }) => {
  const replicas = (await liveTargets(topology)).filter((t) => t.role === "replica");
  if (!replicas.length) return undefined;
  const replica = random.pick(replicas);
  const plan: FaultPlan = {
    kind: "CLUSTER FAILOVER",
    target: replica.address,
    detail: `replica of ${replica.master} takes over`,
    held: false,
    slots: replica.slots ?? [],
    notes: [],
    async inject() {
      const reply = await askOrError(replica.address, "CLUSTER", "FAILOVER");
      if (reply !== "OK") return void plan.notes.push(`refused (${reply instanceof Error ? reply.message : String(reply)})`);
      const promoted = await until(async () => ((await roleOf(replica.address))?.role === "master" ? true : undefined));
      if (!promoted) plan.notes.push(`not master after ${SWITCH_WAIT_MS} ms`);
    },
    async heal() {},
  };
  return plan;
};

export const reshard: FaultMaker = async ({ topology, random }) => {
  const masters = (await liveTargets(topology)).filter((t) => t.role === "master" && t.slots?.length);
  if (masters.length < 2 || !topology.cluster) return undefined;
  const from = random.pick(masters);
  const to = random.pick(masters.filter((m) => m !== from));
  const count = random.int(1, 64);
  let failed = false;
  const plan: FaultPlan = {
    kind: "reshard",
    target: from.address,
    detail: `${count} slots to ${to.address}`,
    held: false,
    notes: [],
    moved: [],
    async inject() {
      let output = "";
      try {
        output = await topology.cluster!.reshard(topology.node(from.address)!.server, topology.node(to.address)!.server, count);
      } catch (error) {
        failed = true;
        output = (error as Error).message;
        plan.notes.push(`redis-cli failed: ${output.split("\n").slice(-2).join(" ").slice(0, 200)}`);
      }
      // redis-cli says each slot it moves ("Moving slot 42 from ... to ...:"), also when it fails part way.
      plan.moved = ranges([...output.matchAll(/Moving slot (\d+) from/g)].map((m) => Number(m[1])));
    },
    async heal() {
      if (failed) await redisCli(["--cluster", "fix", from.address, "--cluster-yes"]).catch((e: Error) => plan.notes.push(`fix failed: ${e.message.slice(0, 200)}`));
    },
  };
  return plan;
};

function ranges(slots: number[]): SlotRanges {
  const out: SlotRanges = [];
  for (const slot of [...new Set(slots)].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last && last[1] === slot - 1) last[1] = slot;
    else out.push([slot, slot]);
  }
  return out;
}
