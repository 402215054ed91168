/**
 * What a Redis Cluster node says about the cluster, read from CLUSTER SHARDS
 * (Redis 7) or CLUSTER SLOTS (older), as one neutral shape: per shard, its
 * slot ranges and its nodes (id, address, role, health).
 */
import type { SlotRange } from "../sharding/slotMap.js";

export interface ClusterNodeInfo {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly role: "master" | "replica";
  /** "online", "failed" or "loading" (CLUSTER SLOTS only lists nodes it considers serving: "online"). */
  readonly health: string;
}

export interface ClusterShardInfo {
  readonly slots: readonly SlotRange[];
  readonly nodes: readonly ClusterNodeInfo[];
}

/** A [key, value, key, value, ...] reply as an object. */
function fields(reply: unknown): Record<string, unknown> {
  const list = Array.isArray(reply) ? reply : [];
  const object: Record<string, unknown> = {};
  for (let i = 0; i + 1 < list.length; i += 2) object[String(list[i])] = list[i + 1];
  return object;
}

/** CLUSTER SHARDS: [["slots", [start, end, ...], "nodes", [[field, value, ...], ...]], ...]. */
export function parseClusterShards(reply: unknown): ClusterShardInfo[] {
  if (!Array.isArray(reply)) throw new TypeError("CLUSTER SHARDS did not answer with a list");
  return reply.map((entry) => {
    const shard = fields(entry);
    const flat = (Array.isArray(shard.slots) ? shard.slots : []).map(Number);
    const slots: SlotRange[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) slots.push([flat[i]!, flat[i + 1]!]);
    const nodes = (Array.isArray(shard.nodes) ? shard.nodes : []).map((raw): ClusterNodeInfo => {
      const node = fields(raw);
      const host = String(node.ip ?? node.endpoint ?? "");
      return {
        id: String(node.id),
        host,
        port: Number(node.port ?? node["tls-port"]),
        role: String(node.role) === "master" ? "master" : "replica",
        health: String(node.health ?? "online"),
      };
    });
    return { slots, nodes };
  });
}

/** CLUSTER SLOTS: [[start, end, [host, port, id], [host, port, id] (replicas) ...], ...], grouped by master. */
export function parseClusterSlots(reply: unknown): ClusterShardInfo[] {
  if (!Array.isArray(reply)) throw new TypeError("CLUSTER SLOTS did not answer with a list");
  const byMaster = new Map<string, { slots: SlotRange[]; nodes: ClusterNodeInfo[] }>();
  for (const entry of reply as unknown[][]) {
    const [start, end, master, ...replicas] = entry;
    const node = (raw: unknown, role: "master" | "replica"): ClusterNodeInfo => {
      const [host, port, id] = raw as [unknown, unknown, unknown];
      return { id: String(id ?? `${String(host)}:${String(port)}`), host: String(host), port: Number(port), role, health: "online" };
    };
    const head = node(master, "master");
    let shard = byMaster.get(head.id);
    if (!shard) byMaster.set(head.id, (shard = { slots: [], nodes: [head, ...replicas.map((r) => node(r, "replica"))] }));
    shard.slots.push([Number(start), Number(end)]);
  }
  return [...byMaster.values()];
}
