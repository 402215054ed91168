/**
 * Where every shard's nodes are: a Layout, replaced as a whole (with a higher
 * epoch) whenever anything changes, never edited in place.
 */
import { formatAddress } from "../config/address.js";
import type { ResolvedShard } from "../config/shards.js";
import type { Address } from "../config/types.js";
import type { BreakerState } from "../resilience/breaker.js";

export interface ShardNodes {
  /** Undefined until Sentinel has named it. */
  readonly master: Address | undefined;
  readonly replicas: readonly Address[];
}

export interface Layout {
  readonly epoch: number;
  readonly shards: readonly ShardNodes[];
}

export function initialLayout(shards: readonly ResolvedShard[]): Layout {
  return freezeLayout(1, shards.map((s) => ({ master: s.master, replicas: s.replicas })));
}

export function freezeLayout(epoch: number, shards: readonly ShardNodes[]): Layout {
  return Object.freeze({
    epoch,
    shards: Object.freeze(shards.map((s) => Object.freeze({ master: s.master, replicas: Object.freeze([...s.replicas]) }))),
  });
}

export function sameNodes(a: ShardNodes, b: ShardNodes): boolean {
  const key = (x: Address | undefined) => (x ? formatAddress(x) : "");
  return (
    key(a.master) === key(b.master) &&
    a.replicas.length === b.replicas.length &&
    a.replicas.map(key).sort().join() === b.replicas.map(key).sort().join()
  );
}

/** What client.topology() returns: the layout with each node's health, at one moment. */
export interface TopologySnapshot {
  readonly epoch: number;
  readonly shards: readonly ShardView[];
  /** Sentinels known now: the configured ones and those learned from them. */
  readonly sentinels: readonly string[];
}

export interface ShardView {
  readonly name: string;
  /** "host:port", or null while Sentinel has not named it. */
  readonly master: NodeView | null;
  readonly replicas: readonly NodeView[];
}

export interface NodeView {
  readonly address: string;
  readonly role: "master" | "replica";
  /** Connected, with its role confirmed. */
  readonly connected: boolean;
  readonly breaker: BreakerState;
  /** Moving average of round trips, in ms; null before the first health check. */
  readonly latencyMs: number | null;
  /** Replicas: how far behind the master, in ms; null when unknown. */
  readonly lagMs: number | null;
  /** Replicas: whether reads may go there now (connected, breaker closed, not syncing, within maxReplicaLagMs). */
  readonly readable: boolean;
}
