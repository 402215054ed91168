/**
 * What a Redis Cluster node says about the cluster, read from CLUSTER SHARDS
 * (Redis 7) or CLUSTER SLOTS (older), as one neutral shape: per shard, its
 * slot ranges and its nodes (id, address, role, health). A node's address is
 * the one the cluster prefers clients to use (its `endpoint`: the hostname
 * it announces, with cluster-preferred-endpoint-type hostname, as managed
 * services set it; the same name MOVED replies give), and its TLS port when
 * the client speaks TLS.
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

/** A [key, value, key, value, ...] reply as an object; a RESP3 map already is one (redis.replyMapping "resp3"). */
function fields(reply: unknown): Record<string, unknown> {
  if (typeof reply === "object" && reply !== null && !Array.isArray(reply) && !Buffer.isBuffer(reply)) return reply as Record<string, unknown>;
  const list = Array.isArray(reply) ? reply : [];
  const object: Record<string, unknown> = {};
  for (let i = 0; i + 1 < list.length; i += 2) object[String(list[i])] = list[i + 1];
  return object;
}

/** A usable host: "?" is how a cluster says it has no endpoint of the preferred type for a node. */
function named(value: unknown): string | undefined {
  const text = value === undefined || value === null ? "" : String(value);
  return text === "" || text === "?" ? undefined : text;
}

/** CLUSTER SHARDS: [["slots", [start, end, ...], "nodes", [[field, value, ...], ...]], ...]; `tls`: the client connects over TLS. */
export function parseClusterShards(reply: unknown, tls = false): ClusterShardInfo[] {
  if (!Array.isArray(reply)) throw new TypeError("CLUSTER SHARDS did not answer with a list");
  return reply.map((entry) => {
    const shard = fields(entry);
    const flat = (Array.isArray(shard.slots) ? shard.slots : []).map(Number);
    const slots: SlotRange[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) slots.push([flat[i]!, flat[i + 1]!]);
    const nodes = (Array.isArray(shard.nodes) ? shard.nodes : []).map((raw): ClusterNodeInfo => {
      const node = fields(raw);
      // With `--port 0` there is no "port"; with both, a TLS client wants "tls-port".
      const port = tls ? (node["tls-port"] ?? node.port) : (node.port ?? node["tls-port"]);
      return {
        id: String(node.id),
        host: named(node.endpoint) ?? named(node.hostname) ?? String(node.ip ?? ""),
        port: Number(port),
        role: String(node.role) === "master" ? "master" : "replica",
        health: String(node.health ?? "online"),
      };
    });
    return { slots, nodes };
  });
}

/**
 * CLUSTER SLOTS: [[start, end, [endpoint, port, id, metadata?], (replicas) ...], ...], grouped by master. The port
 * is the one for the client's connection type; metadata ([ip, ...], Redis 7) gives the ip when the endpoint is "?".
 */
export function parseClusterSlots(reply: unknown): ClusterShardInfo[] {
  if (!Array.isArray(reply)) throw new TypeError("CLUSTER SLOTS did not answer with a list");
  const byMaster = new Map<string, { slots: SlotRange[]; nodes: ClusterNodeInfo[] }>();
  for (const entry of reply as unknown[][]) {
    const [start, end, master, ...replicas] = entry;
    const node = (raw: unknown, role: "master" | "replica"): ClusterNodeInfo => {
      const [endpoint, port, id, metadata] = raw as [unknown, unknown, unknown, unknown];
      const host = named(endpoint) ?? named(fields(metadata).hostname) ?? String(fields(metadata).ip ?? endpoint);
      return { id: String(id ?? `${host}:${String(port)}`), host, port: Number(port), role, health: "online" };
    };
    const head = node(master, "master");
    let shard = byMaster.get(head.id);
    if (!shard) byMaster.set(head.id, (shard = { slots: [], nodes: [head, ...replicas.map((r) => node(r, "replica"))] }));
    shard.slots.push([Number(start), Number(end)]);
  }
  return [...byMaster.values()];
}
