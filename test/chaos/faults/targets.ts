/** The servers as they are now: who is master of what, for picking a fault's target and recording what it may lose. */
import { roleOf } from "../admin.js";
import { clusterSlots, masterOf, type SlotRanges } from "../health.js";
import type { ChaosTopology } from "../topology.js";

export interface Target {
  readonly address: string;
  readonly role: "master" | "replica";
  /** Plain and sentinel: the shard's name. */
  readonly shard?: string;
  /** Cluster: the slots its master serves. */
  readonly slots?: SlotRanges;
  /** A replica's master. */
  readonly master?: string;
}

export async function liveTargets(topology: ChaosTopology): Promise<Target[]> {
  if (topology.kind !== "cluster") {
    const masters = new Map<string, string | undefined>();
    for (const shard of new Set(topology.nodes.map((n) => n.shard!))) masters.set(shard, await masterOf(topology, shard));
    return topology.nodes.map((n) => {
      const master = masters.get(n.shard!);
      return master === n.server.address
        ? { address: n.server.address, role: "master", shard: n.shard! }
        : { address: n.server.address, role: "replica", shard: n.shard!, ...(master ? { master } : {}) };
    });
  }
  const slots = await clusterSlots(topology);
  const targets: Target[] = [];
  for (const node of topology.nodes) {
    const address = node.server.address;
    const role = await roleOf(address);
    if (role?.role === "master" && slots.has(address)) targets.push({ address, role: "master", slots: slots.get(address)! });
    if (role?.role === "replica") targets.push({ address, role: "replica", master: role.master, slots: slots.get(role.master) ?? [] });
  }
  return targets;
}

/** Where a fault on this target may lose data: its shard, or its (master's) slots. */
export function scopeOf(target: Target): { shard?: string; slots?: SlotRanges } {
  return target.shard ? { shard: target.shard } : { slots: target.slots ?? [] };
}
