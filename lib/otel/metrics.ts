/**
 * OpenTelemetry metrics by the database conventions, beside the
 * prom-client ones: db.client.operation.duration (a histogram in seconds,
 * per call, with the span's attributes), db.client.connection.count (per
 * node: the shared connection and its pool's, idle or used) and
 * db.client.connection.pending_requests (waiting for a connection).
 */
import type { Histogram, Meter, ObservableResult, ObservableUpDownCounter } from "@opentelemetry/api";
import type { ShardisStats } from "../metrics/stats.js";
import type { Attributes } from "./attributes.js";

/** The conventions' advice for operation durations (seconds). */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

export class OperationMetrics {
  private readonly duration: Histogram;
  private readonly connections: ObservableUpDownCounter;
  private readonly pending: ObservableUpDownCounter;
  private readonly observeConnections = (result: ObservableResult): void => {
    for (const node of this.stats().nodes) {
      const pool = `${node.shard}/${node.node}`;
      // The node's shared connection carries commands while any is in flight; its pool's connections are lent or not.
      const used = (node.inflight > 0 ? 1 : 0) + (node.pool?.inUse ?? 0);
      const idle = (node.inflight > 0 ? 0 : 1) + (node.pool?.idle ?? 0);
      result.observe(used, { "db.client.connection.pool.name": pool, "db.client.connection.state": "used", "db.system.name": "redis" });
      result.observe(idle, { "db.client.connection.pool.name": pool, "db.client.connection.state": "idle", "db.system.name": "redis" });
    }
  };
  private readonly observePending = (result: ObservableResult): void => {
    for (const node of this.stats().nodes) {
      result.observe(node.queued + (node.pool?.waiting ?? 0), { "db.client.connection.pool.name": `${node.shard}/${node.node}`, "db.system.name": "redis" });
    }
  };

  constructor(
    meter: Meter,
    private readonly stats: () => ShardisStats,
  ) {
    this.duration = meter.createHistogram("db.client.operation.duration", {
      description: "Duration of database client operations.",
      unit: "s",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.connections = meter.createObservableUpDownCounter("db.client.connection.count", {
      description: "The number of connections that are currently in state described by the state attribute.",
      unit: "{connection}",
    });
    this.pending = meter.createObservableUpDownCounter("db.client.connection.pending_requests", {
      description: "The number of current pending requests for an open connection.",
      unit: "{request}",
    });
    this.connections.addCallback(this.observeConnections);
    this.pending.addCallback(this.observePending);
  }

  operation(seconds: number, attributes: Attributes): void {
    this.duration.record(seconds, attributes);
  }

  stop(): void {
    this.connections.removeCallback(this.observeConnections);
    this.pending.removeCallback(this.observePending);
  }
}
