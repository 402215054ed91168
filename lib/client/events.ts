/** The events a ShardedClient emits: its own, and ioredis's for libraries that listen to them. */
import type { BreakerState } from "../resilience/breaker.js";

export interface NodeEvent {
  readonly shard: string;
  /** "host:port" */
  readonly node: string;
}

export interface ShardisEvents {
  /** A node connection is ready; commands queued for it are written now. */
  "node:ready": [NodeEvent];
  /** A node connection was lost or could not be made; emitted once per outage. */
  "node:down": [NodeEvent & { readonly error: Error | undefined }];
  /** A connection-level error (refused, reset, authentication). Secrets are stripped. */
  "node:error": [NodeEvent & { readonly error: Error }];
  /** A node's circuit breaker changed state. */
  breaker: [NodeEvent & { readonly state: BreakerState }];
  /** A subscribe/psubscribe handler threw; delivery to other handlers went on. */
  "pubsub:error": [{ readonly channel: string; readonly error: unknown }];
  /** A new topology took effect (a new epoch). */
  topology: [{ readonly epoch: number; readonly reason: string }];
  /** A shard's master moved to another node. */
  failover: [{ readonly shard: string; readonly from: string; readonly to: string }];
  /** A sentinel reported an address (a node's or another sentinel's) outside allowedAddresses, or the natMap failed on it; it was not used. */
  "topology:refused": [{ readonly shard: string; readonly address: string; readonly reason: string }];
  /** A sentinel could not be reached or answered with an error. Secrets are stripped. */
  "sentinel:error": [{ readonly sentinel: string; readonly error: Error }];

  // ioredis's events, as libraries written for it expect them.
  /** Every shard's master connected (first time), before "ready". */
  connect: [];
  /** Every shard's master is connected (first time), or one is again after all were lost. */
  ready: [];
  /** A node connection failed (the same error as "node:error"); only emitted when something listens. */
  error: [Error];
  /** No master is reachable any more, or the client is closing. */
  close: [];
  /** No master is reachable; connections are being re-established. */
  reconnecting: [];
  /** quit() or disconnect() finished: every connection is closed. */
  end: [];
  /** A message on a channel subscribed without a handler. */
  message: [channel: string, message: string];
  messageBuffer: [channel: Buffer, message: Buffer];
  /** A message matching a pattern subscribed without a handler. */
  pmessage: [pattern: string, channel: string, message: string];
  pmessageBuffer: [pattern: Buffer, channel: Buffer, message: Buffer];
}
