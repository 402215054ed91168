import { formatAddress } from "../config/address.js";
import type { ResolvedShard } from "../config/resolve.js";

export interface ShardView {
  readonly name: string;
  /** "host:port" of the shard's master. */
  readonly master: string;
  readonly replicas: readonly string[];
}

/**
 * An immutable picture of the fleet. A change (failover, refresh) builds a
 * new snapshot with a higher epoch and swaps it in; a snapshot is never edited.
 */
export interface TopologySnapshot {
  readonly epoch: number;
  readonly shards: readonly ShardView[];
}

export function staticTopology(shards: readonly ResolvedShard[]): TopologySnapshot {
  return Object.freeze({
    epoch: 1,
    shards: Object.freeze(
      shards.map((s) => Object.freeze({ name: s.name, master: formatAddress(s.master), replicas: Object.freeze([]) })),
    ),
  });
}
