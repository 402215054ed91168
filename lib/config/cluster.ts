/**
 * Validation of the `cluster` option: Redis Cluster as the topology source,
 * instead of `shards` (and `sentinels`). The cluster's masters become the
 * shards; its slot map places keys.
 */
import { describe, formatAddress, parseAddress } from "./address.js";
import { isPlainObject, unknownKeys } from "./checks.js";
import type { Address } from "./types.js";

export interface ResolvedCluster {
  /** Nodes to ask for the topology first; any cluster node will do. */
  readonly seeds: readonly Address[];
}

/** undefined when the option is absent. */
export function resolveCluster(value: unknown, options: Record<string, unknown>, problems: string[]): ResolvedCluster | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) {
    problems.push(`cluster must be an object { seeds: ["host:port", ...] } (got ${describe(value)})`);
    return undefined;
  }
  unknownKeys(value, ["seeds"], "field in cluster", problems);
  for (const other of ["shards", "sentinels"]) {
    if (options[other] !== undefined) problems.push(`cluster and ${other} exclude each other: the cluster's masters are the shards`);
  }
  // A cluster serves database 0 only: SELECT of another would be refused on every node.
  const db = isPlainObject(options.redis) ? options.redis.db : undefined;
  if (db !== undefined && db !== 0) problems.push("redis.db must be 0 over a cluster: a Redis Cluster has database 0 only");
  const sharding = options.sharding as Record<string, unknown> | undefined;
  if (sharding !== undefined && (!isPlainObject(sharding) || (sharding.strategy ?? "slots") !== "slots" || sharding.slots !== undefined)) {
    problems.push("cluster places keys by its own slot map: leave out sharding");
  }
  const seeds: Address[] = [];
  if (!Array.isArray(value.seeds) || value.seeds.length === 0) {
    problems.push(`cluster.seeds must be a non-empty array of "host:port" (got ${describe(value.seeds)})`);
    return undefined;
  }
  const seen = new Set<string>();
  value.seeds.forEach((input: unknown, i) => {
    const parsed = parseAddress(input);
    if (!parsed.ok) problems.push(`cluster.seeds[${i}] ${parsed.problem}`);
    else if (seen.has(formatAddress(parsed.address))) problems.push(`cluster.seeds[${i}] ${formatAddress(parsed.address)} is listed twice`);
    else {
      seen.add(formatAddress(parsed.address));
      seeds.push(parsed.address);
    }
  });
  return { seeds };
}
