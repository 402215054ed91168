/**
 * One reading of everything the client counts and every node's state, taken
 * when metrics are scraped or stats() is called (never on the hot path).
 * Counters are the live meters; gauges are read from the nodes now.
 */
import type { NodeRegistry } from "../topology/NodeRegistry.js";
import type { HealthMonitor } from "../replicas/HealthMonitor.js";
import type { BreakerState } from "../resilience/breaker.js";
import type { Meters, MeterRole, NodeMeter, Refusal, ShardMeter } from "./meters.js";
import type { CacheMeter } from "./cacheMeter.js";
import type { ServerFigures, ServerStats } from "./serverStats.js";
import type { HotKey, ShardLoad } from "../hotkeys/HotKeys.js";
import type { NearCacheShardStats } from "./nearCacheStats.js";
import type { MigrationFigures } from "./migrationFamilies.js";

/** The hot-key detector's last complete window. */
export interface HotFigures {
  /** The top-k keys across shards, most first. */
  readonly keys: readonly HotKey[];
  /** Per shard that received commands. */
  readonly loads: readonly ShardLoad[];
  /** Export the keys as labels (metrics.hotKeyLabels). */
  readonly keyLabels: boolean;
}

/** A node's pool of dedicated connections: idle and borrowed connections, callers waiting for one. */
export interface PoolFigures {
  readonly idle: number;
  readonly inUse: number;
  readonly waiting: number;
}

export interface NodeFigures {
  readonly shard: string;
  readonly node: string;
  readonly role: MeterRole;
  readonly breaker: BreakerState;
  /** Written, waiting for their reply. */
  readonly inflight: number;
  /** Accepted, not yet written. */
  readonly queued: number;
  /** Dedicated connections by state; null until the pool is first used. */
  readonly pool: PoolFigures | null;
  /** The node's last INFO (metrics with serverStatsIntervalMs); null when none is current. */
  readonly server: ServerFigures | null;
  /** Replicas: bytes of replication stream not yet applied, from the last INFO of both ends. */
  readonly replicationLagBytes: number | null;
  /** Replicas: how far behind the master, in seconds (health checks); null when unknown. */
  readonly replicationLagSeconds: number | null;
}

export interface Figures {
  readonly shards: readonly ShardMeter[];
  /** Every node ever used, for counters that must not go back when a node leaves. */
  readonly nodeMeters: readonly NodeMeter[];
  /** Nodes in the layout now. */
  readonly nodes: readonly NodeFigures[];
  /** Commands refused before reaching any shard. */
  readonly refusals: readonly Refusal[];
  /** client.cache() namespaces. */
  readonly caches: readonly CacheMeter[];
  /** undefined when the detector is off. */
  readonly hot: HotFigures | undefined;
  /** The near cache per shard; undefined when it is off. */
  readonly near?: readonly NearCacheShardStats[] | undefined;
  /** A live migration of the fleet; undefined without one. */
  readonly migration?: MigrationFigures | undefined;
}

export interface FigureSources {
  readonly meters: Meters;
  readonly registry: NodeRegistry;
  readonly health: HealthMonitor;
  readonly server: ServerStats | undefined;
  readonly hot?: HotFigures | undefined;
  readonly near?: readonly NearCacheShardStats[] | undefined;
}

export function readFigures({ meters, registry, health, server, hot, near }: FigureSources): Figures {
  const placements = registry.placements();
  const nodes = placements.map(({ shard, node, role, pool }): NodeFigures => {
    const own = server?.of(node) ?? null;
    let lagBytes: number | null = null;
    if (role === "replica") {
      const master = registry.master(shard);
      const top = master && server?.of(master);
      if (top && own && top.replicationOffset !== null && own.replicationOffset !== null) {
        lagBytes = Math.max(0, top.replicationOffset - own.replicationOffset);
      }
    }
    const lagMs = role === "replica" ? health.of(node).lagMs : null;
    const stats = pool?.stats;
    return {
      shard: node.shard,
      node: node.id,
      role,
      breaker: node.context.breaker.state,
      inflight: node.unanswered,
      queued: node.queued,
      pool: stats ? { idle: stats.available, inUse: stats.borrowed, waiting: stats.pending } : null,
      server: own,
      replicationLagBytes: lagBytes,
      replicationLagSeconds: lagMs === null ? null : lagMs / 1000,
    };
  });
  return {
    shards: meters.shards,
    nodeMeters: [...meters.allNodes()],
    nodes,
    refusals: [...meters.allRefusals()].map((r) => ({ ...r })),
    caches: [...meters.allCaches()],
    hot,
    near,
  };
}
