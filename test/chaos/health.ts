/**
 * Who is master now, and is the topology whole: every server answering, each
 * shard with one master and a linked replica, Sentinels agreeing and seeing
 * both, a cluster in state ok with one slot map, no failed node and no open
 * slot. The fault loop waits for this between faults and at the end.
 */
import { ask, roleOf } from "./admin.js";
import type { ChaosTopology } from "./topology.js";

export type SlotRanges = Array<[number, number]>;

/** The shard's master as the Sentinels say (all must agree), or as configured (plain). */
export async function masterOf(topology: ChaosTopology, shard: string): Promise<string | undefined> {
  const name = topology.masterNames.get(shard);
  if (!name) return topology.nodes.find((n) => n.shard === shard)?.server.address;
  const answers = await Promise.all(
    topology.sentinels.map(async (s) => {
      const reply = (await ask(s.address, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)) as string[] | undefined;
      return reply ? `${reply[0]}:${reply[1]}` : undefined;
    }),
  );
  return answers.every((a) => a && a === answers[0]) ? answers[0] : undefined;
}

/** The cluster's slot map by master address, as one node answering sees it. */
export async function clusterSlots(topology: ChaosTopology): Promise<Map<string, SlotRanges>> {
  for (const node of topology.nodes) {
    const reply = (await ask(node.server.address, "CLUSTER", "SLOTS")) as Array<[number, number, [string, number]]> | undefined;
    if (!Array.isArray(reply)) continue;
    const map = new Map<string, SlotRanges>();
    for (const [from, to, [host, port]] of reply) {
      const address = `${host}:${port}`;
      map.set(address, [...(map.get(address) ?? []), [from, to]]);
    }
    return map;
  }
  return new Map();
}

/** Undefined when whole; otherwise what is not. */
export async function unhealthy(topology: ChaosTopology): Promise<string | undefined> {
  return topology.kind === "cluster" ? clusterTrouble(topology) : shardTrouble(topology);
}

export async function waitHealthy(topology: ChaosTopology, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const trouble = await unhealthy(topology);
    if (!trouble || Date.now() > deadline) return trouble;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function shardTrouble(topology: ChaosTopology): Promise<string | undefined> {
  for (const shard of new Set(topology.nodes.map((n) => n.shard!))) {
    const master = await masterOf(topology, shard);
    if (!master) return `${shard}: the Sentinels do not agree on a master`;
    const role = await roleOf(master);
    if (role?.role !== "master") return `${shard}: ${master} is not answering as master`;
    for (const node of topology.nodes.filter((n) => n.shard === shard && n.server.address !== master)) {
      const replica = await roleOf(node.server.address);
      if (replica?.role !== "replica" || replica.master !== master || replica.state !== "connected") {
        return `${shard}: ${node.server.address} is not a linked replica of ${master}`;
      }
    }
    const name = topology.masterNames.get(shard);
    for (const sentinel of name ? topology.sentinels : []) {
      const flags = await sentinelFlags(sentinel.address, name!);
      if (!flags) return `${shard}: sentinel ${sentinel.address} does not answer`;
      if (flags.some((f) => /s_down|o_down|disconnected/.test(f))) return `${shard}: sentinel ${sentinel.address} sees ${flags.join(" ")}`;
      if (flags.length < topology.nodes.filter((n) => n.shard === shard).length) return `${shard}: sentinel ${sentinel.address} misses a replica`;
    }
  }
  return undefined;
}

/** The flags of the master and each replica one Sentinel knows for a name. */
async function sentinelFlags(address: string, name: string): Promise<string[] | undefined> {
  const flagsOf = (fields: unknown[]) => String(fields[fields.indexOf("flags") + 1]);
  const master = (await ask(address, "SENTINEL", "MASTER", name)) as unknown[] | undefined;
  const replicas = (await ask(address, "SENTINEL", "REPLICAS", name)) as unknown[][] | undefined;
  if (!Array.isArray(master) || !Array.isArray(replicas)) return undefined;
  return [flagsOf(master), ...replicas.map(flagsOf)];
}

async function clusterTrouble(topology: ChaosTopology): Promise<string | undefined> {
  let slots: string | undefined;
  for (const node of topology.nodes) {
    const address = node.server.address;
    const info = String((await ask(address, "CLUSTER", "INFO")) ?? "");
    if (!info.includes("cluster_state:ok")) return `${address}: cluster state not ok`;
    const nodes = String((await ask(address, "CLUSTER", "NODES")) ?? "").split("\n").filter(Boolean);
    if (nodes.length < topology.nodes.length) return `${address} knows ${nodes.length} nodes`;
    const bad = nodes.find((line) => /\b(fail\??|handshake|noaddr)\b/.test(line.split(" ")[2] ?? "") || /\[\d+-[<>]-/.test(line));
    if (bad) return `${address} sees: ${bad.slice(0, 160)}`;
    const mine = JSON.stringify((await ask(address, "CLUSTER", "SLOTS")) ?? null);
    if (slots !== undefined && mine !== slots) return `${address} has another slot map`;
    slots = mine;
  }
  for (const [master] of await clusterSlots(topology)) {
    const role = await roleOf(master);
    if (role?.role !== "master") return `${master} serves slots but is not answering as master`;
    const replicas = await Promise.all(role.replicas.map((r) => roleOf(r)));
    const connected = replicas.filter((r) => r?.role === "replica" && r.master === master && r.state === "connected").length;
    if (connected === 0) return `${master} has no linked replica`;
  }
  return undefined;
}
