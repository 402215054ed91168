/**
 * client.stats(): the figures behind the Prometheus metrics as one plain,
 * JSON-ready object, for apps that log or serve them their own way.
 */
import type { BreakerState } from "../resilience/breaker.js";
import type { Figures, PoolFigures } from "./figures.js";
import { Histogram } from "./histogram.js";
import { OUTCOMES, type MeterRole, type Outcome } from "./meters.js";
import type { CacheMeter, CacheResult, LoadOutcome } from "./cacheMeter.js";
import type { ServerFigures } from "./serverStats.js";

export interface LatencyStats {
  /** Commands the node answered. */
  readonly count: number;
  /** Estimated from the histogram's buckets (as Prometheus does); null with no commands. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly meanMs: number | null;
}

export interface CommandStats {
  readonly outcomes: Readonly<Record<Outcome, number>>;
  readonly latency: LatencyStats;
}

export interface ShardStats {
  readonly name: string;
  /** Commands by outcome, all commands and roles together. */
  readonly commands: Readonly<Record<Outcome, number>>;
  /** Per command label ("get", "set", ..., "other") and role. */
  readonly byCommand: Readonly<Record<string, Readonly<Partial<Record<MeterRole, CommandStats>>>>>;
  readonly latency: LatencyStats;
  readonly hits: number;
  readonly misses: number;
  /** hits / (hits + misses); null before any GET-like read. */
  readonly hitRatio: number | null;
  readonly retries: number;
  readonly topologyChanges: number;
  readonly failovers: number;
  /** Redis Cluster redirections its nodes answered with, which commands followed. */
  readonly redirects: { readonly moved: number; readonly ask: number };
  /** Mean commands per write. */
  readonly meanBatchSize: number | null;
}

export interface NodeStats {
  readonly shard: string;
  readonly node: string;
  readonly role: MeterRole;
  readonly breaker: BreakerState;
  readonly inflight: number;
  readonly queued: number;
  readonly reconnects: number;
  readonly pool: PoolFigures | null;
  /** The last INFO figures (only with metrics.serverStatsIntervalMs); `at` dropped. */
  readonly server: Omit<ServerFigures, "at" | "replicationOffset"> | null;
  readonly replicationLagBytes: number | null;
  readonly replicationLagSeconds: number | null;
}

export interface ShardisStats {
  readonly shards: readonly ShardStats[];
  readonly nodes: readonly NodeStats[];
  /** Commands refused before reaching any shard, by command and error code: `{ "mget|ERR_SHARDIS_CROSS_SHARD": 3 }`. */
  readonly refused: Readonly<Record<string, number>>;
  /** client.cache() namespaces. */
  readonly caches: readonly CacheStats[];
}

export interface CacheStats {
  readonly namespace: string;
  readonly requests: Readonly<Record<CacheResult, number>>;
  /** (hit + negative + stale) / requests; null before any request. */
  readonly hitRatio: number | null;
  readonly loads: Readonly<Record<LoadOutcome, number>>;
  readonly loadLatency: LatencyStats;
  readonly lockWaits: number;
  readonly earlyRefreshes: number;
  readonly corruptEntries: number;
  readonly refusedWrites: number;
}

function latency(h: Histogram): LatencyStats {
  const ms = (s: number | null) => (s === null ? null : Math.round(s * 1e6) / 1000);
  return { count: h.count, p50Ms: ms(h.quantile(0.5)), p99Ms: ms(h.quantile(0.99)), meanMs: h.count ? ms(h.sum / h.count) : null };
}

function zeroOutcomes(): Record<Outcome, number> {
  return Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
}

export function buildStats(figures: Figures): ShardisStats {
  const reconnects = new Map<string, number>();
  for (const n of figures.nodeMeters) reconnects.set(`${n.shard}|${n.address}`, n.reconnects);
  const shards = figures.shards.map((shard): ShardStats => {
    const commands = zeroOutcomes();
    const byCommand: Record<string, Partial<Record<MeterRole, CommandStats>>> = {};
    let all: Histogram | undefined;
    for (const meter of Object.values(shard.roles)) {
      for (const c of meter.commands()) {
        for (const o of OUTCOMES) commands[o] += c.outcomes[o];
        (byCommand[c.command] ??= {})[meter.role] = { outcomes: { ...c.outcomes }, latency: latency(c.latency) };
        if (all) all.merge(c.latency);
        else all = c.latency.copy();
      }
    }
    const hits = shard.roles.master.hits + shard.roles.replica.hits;
    const misses = shard.roles.master.misses + shard.roles.replica.misses;
    const batches = shard.roles.master.batches.copy();
    batches.merge(shard.roles.replica.batches);
    return {
      name: shard.shard,
      commands,
      byCommand,
      latency: latency(all ?? new Histogram([1])),
      hits,
      misses,
      hitRatio: hits + misses ? hits / (hits + misses) : null,
      retries: shard.roles.master.retries + shard.roles.replica.retries,
      topologyChanges: shard.topologyChanges,
      failovers: shard.failovers,
      redirects: { ...shard.redirects },
      meanBatchSize: batches.count ? batches.sum / batches.count : null,
    };
  });
  const nodes = figures.nodes.map((n): NodeStats => {
    let server: NodeStats["server"] = null;
    if (n.server) {
      const { at: _at, replicationOffset: _offset, ...rest } = n.server;
      server = rest;
    }
    return {
      shard: n.shard,
      node: n.node,
      role: n.role,
      breaker: n.breaker,
      inflight: n.inflight,
      queued: n.queued,
      reconnects: reconnects.get(`${n.shard}|${n.node}`) ?? 0,
      pool: n.pool,
      server,
      replicationLagBytes: n.replicationLagBytes,
      replicationLagSeconds: n.replicationLagSeconds,
    };
  });
  const refused = Object.fromEntries(figures.refusals.map((r) => [`${r.command}|${r.code}`, r.count]));
  return { shards, nodes, refused, caches: figures.caches.map(cacheStats) };
}

function cacheStats(c: CacheMeter): CacheStats {
  const { hit, miss, stale, negative } = c.requests;
  const total = hit + miss + stale + negative;
  return {
    namespace: c.namespace,
    requests: { ...c.requests },
    hitRatio: total ? (hit + negative + stale) / total : null,
    loads: { ...c.loads },
    loadLatency: latency(c.loadDuration),
    lockWaits: c.lockWaits,
    earlyRefreshes: c.earlyRefreshes,
    corruptEntries: c.corruptEntries,
    refusedWrites: c.refusedWrites,
  };
}
