/**
 * Every exported metric: name (after the prefix), help, type, and how its
 * samples are read from one Figures reading. Labels are bounded by
 * construction: shard names, node addresses, roles, outcomes, breaker
 * states and known command names (others read as "other"); never keys.
 */
import type { Figures, NodeFigures } from "./figures.js";
import type { Histogram } from "./histogram.js";
import { OUTCOMES } from "./meters.js";
import type { ServerFigures } from "./serverStats.js";

export type Labels = Record<string, string>;

/** One exposition line: `metricName{labels} value` (metricName only for histogram parts). */
export interface Sample {
  readonly metricName?: string;
  readonly labels: Labels;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  samples(figures: Figures, fullName: string): Sample[];
}

/** A histogram's _bucket, _sum and _count series. */
export function histogram(out: Sample[], fullName: string, labels: Labels, h: Histogram): void {
  const cumulative = h.cumulative();
  h.bounds.forEach((bound, i) => out.push({ metricName: `${fullName}_bucket`, labels: { ...labels, le: String(bound) }, value: cumulative[i]! }));
  out.push({ metricName: `${fullName}_bucket`, labels: { ...labels, le: "+Inf" }, value: h.count });
  out.push({ metricName: `${fullName}_sum`, labels, value: h.sum });
  out.push({ metricName: `${fullName}_count`, labels, value: h.count });
}

/** A gauge or counter per node in the layout, skipped where the value is null. */
function perNode(read: (n: NodeFigures) => number | null, withRole = false): Family["samples"] {
  return (figures) =>
    figures.nodes.flatMap((n) => {
      const value = read(n);
      if (value === null) return [];
      const labels: Labels = withRole ? { shard: n.shard, node: n.node, role: n.role } : { shard: n.shard, node: n.node };
      return [{ labels, value }];
    });
}

const BREAKER_VALUE = { closed: 0, halfOpen: 1, open: 2 } as const;

/** One series per node in the layout, straight from its last INFO: name, type, field, help. */
const SERVER_FIGURES: ReadonlyArray<readonly [string, "counter" | "gauge", keyof ServerFigures, string]> = [
  ["server_keyspace_hits_total", "counter", "keyspaceHits", "INFO keyspace_hits: successful key lookups on the server, from all its clients."],
  ["server_keyspace_misses_total", "counter", "keyspaceMisses", "INFO keyspace_misses: failed key lookups on the server, from all its clients."],
  ["server_evicted_keys_total", "counter", "evictedKeys", "INFO evicted_keys: keys the server evicted for maxmemory."],
  ["server_expired_keys_total", "counter", "expiredKeys", "INFO expired_keys: keys the server expired."],
  ["server_used_memory_bytes", "gauge", "usedMemoryBytes", "INFO used_memory."],
  ["server_maxmemory_bytes", "gauge", "maxmemoryBytes", "INFO maxmemory (0: no limit)."],
  ["server_connected_clients", "gauge", "connectedClients", "INFO connected_clients."],
];

export const FAMILIES: readonly Family[] = [
  {
    name: "command_duration_seconds",
    help: "Seconds from a command's acceptance to its reply, for commands a node answered (ok or Redis error).",
    type: "histogram",
    samples(figures, fullName) {
      const out: Sample[] = [];
      for (const shard of figures.shards) {
        for (const meter of Object.values(shard.roles)) {
          for (const c of meter.commands()) {
            if (c.latency.count) histogram(out, fullName, { shard: shard.shard, role: meter.role, command: c.command }, c.latency);
          }
        }
      }
      return out;
    },
  },
  {
    name: "commands_total",
    help: "Commands by outcome: ok, error (Redis error reply), timeout, connection, circuit_open, queue_full, closed, auth, database.",
    type: "counter",
    samples(figures) {
      const totals = new Map<string, Sample>();
      for (const shard of figures.shards) {
        for (const meter of Object.values(shard.roles)) {
          for (const c of meter.commands()) {
            for (const outcome of OUTCOMES) {
              const value = c.outcomes[outcome];
              if (!value) continue;
              const key = `${shard.shard}|${c.command}|${outcome}`;
              const seen = totals.get(key);
              totals.set(key, { labels: { shard: shard.shard, command: c.command, outcome }, value: (seen?.value ?? 0) + value });
            }
          }
        }
      }
      return [...totals.values()];
    },
  },
  {
    name: "commands_refused_total",
    help: "Commands refused before reaching any shard, by error code: cross-shard keys, no key to route by, unknown or unsupported commands, bad arguments.",
    type: "counter",
    samples: (figures) => figures.refusals.map((r) => ({ labels: { command: r.command, code: r.code }, value: r.count })),
  },
  {
    name: "cache_hits_total",
    help: "GET-like reads (GET, GETEX, GETDEL, HGET, and each key of MGET / field of HMGET) that found a value.",
    type: "counter",
    samples: (f) => f.shards.map((s) => ({ labels: { shard: s.shard }, value: s.roles.master.hits + s.roles.replica.hits })),
  },
  {
    name: "cache_misses_total",
    help: "GET-like reads that found nothing (nil).",
    type: "counter",
    samples: (f) => f.shards.map((s) => ({ labels: { shard: s.shard }, value: s.roles.master.misses + s.roles.replica.misses })),
  },
  {
    name: "pipeline_batch_size",
    help: "Commands per write to a node: what auto-pipelining and pipelines put in one write.",
    type: "histogram",
    samples(figures, fullName) {
      const out: Sample[] = [];
      for (const shard of figures.shards) {
        const merged = shard.roles.master.batches.copy();
        merged.merge(shard.roles.replica.batches);
        histogram(out, fullName, { shard: shard.shard }, merged);
      }
      return out;
    },
  },
  {
    name: "inflight_commands",
    help: "Commands written to the node and not yet answered.",
    type: "gauge",
    samples: perNode((n) => n.inflight),
  },
  {
    name: "queued_commands",
    help: "Commands accepted for the node and not yet written (waiting for a connection or this turn's write).",
    type: "gauge",
    samples: perNode((n) => n.queued),
  },
  {
    name: "breaker_state",
    help: "The node's circuit breaker: 0 closed, 1 half-open, 2 open.",
    type: "gauge",
    samples: perNode((n) => BREAKER_VALUE[n.breaker]),
  },
  {
    name: "breaker_transitions_total",
    help: "Circuit breaker state changes, by the state entered (open, halfOpen, closed).",
    type: "counter",
    samples: (f) =>
      f.nodeMeters.flatMap((n) =>
        Object.entries(n.transitions).map(([state, value]) => ({ labels: { shard: n.shard, node: n.address, state }, value })),
      ),
  },
  {
    name: "pool_connections",
    help: "Dedicated (pooled) connections to the node, by state: idle or in_use.",
    type: "gauge",
    samples: (f) =>
      f.nodes.flatMap((n) =>
        n.pool
          ? [
              { labels: { shard: n.shard, node: n.node, state: "idle" }, value: n.pool.idle },
              { labels: { shard: n.shard, node: n.node, state: "in_use" }, value: n.pool.inUse },
            ]
          : [],
      ),
  },
  {
    name: "pool_waiting",
    help: "Callers waiting for a dedicated connection to the node.",
    type: "gauge",
    samples: perNode((n) => (n.pool ? n.pool.waiting : null)),
  },
  {
    name: "retries_total",
    help: "Retries of reads and idempotent writes after a lost connection or a LOADING/TRYAGAIN/BUSY reply.",
    type: "counter",
    samples: (f) => f.shards.map((s) => ({ labels: { shard: s.shard }, value: s.roles.master.retries + s.roles.replica.retries })),
  },
  {
    name: "reconnects_total",
    help: "Connections to the node re-established after being lost.",
    type: "counter",
    samples: (f) => f.nodeMeters.map((n) => ({ labels: { shard: n.shard, node: n.address }, value: n.reconnects })),
  },
  {
    name: "topology_changes_total",
    help: "Times the shard's master or replica set changed in the client's topology.",
    type: "counter",
    samples: (f) => f.shards.map((s) => ({ labels: { shard: s.shard }, value: s.topologyChanges })),
  },
  {
    name: "failovers_total",
    help: "Times the shard's master moved to another node.",
    type: "counter",
    samples: (f) => f.shards.map((s) => ({ labels: { shard: s.shard }, value: s.failovers })),
  },
  ...SERVER_FIGURES.map(
    ([name, type, field, help]): Family => ({
      name,
      help,
      type,
      samples: perNode((n) => n.server?.[field] ?? null, true),
    }),
  ),
  {
    name: "cluster_redirects_total",
    help: "Redis Cluster redirections (MOVED, ASK) a shard's nodes answered with; each was followed to the node it named.",
    type: "counter",
    samples: (f) => f.shards.flatMap((s) => (["moved", "ask"] as const).map((kind) => ({ labels: { shard: s.shard, kind }, value: s.redirects[kind] }))),
  },
  {
    name: "replication_lag_bytes",
    help: "Per replica: the master's replication offset minus the replica's, from their last INFO.",
    type: "gauge",
    samples: perNode((n) => n.replicationLagBytes),
  },
  {
    name: "replication_lag_seconds",
    help: "Per replica: how far its data trails the master, in seconds, from offset samples of the health checks.",
    type: "gauge",
    samples: perNode((n) => n.replicationLagSeconds),
  },
];
