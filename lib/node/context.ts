/**
 * What a connection shares with the other connections to its node (breaker,
 * limits, role, meters) and the events it reports, kept apart from the
 * connection so pooled and subscriber connections can take a view of it.
 */
import type { ResolvedRetryOptions } from "../config/resolve.js";
import type { NodeMeter, RoleMeter } from "../metrics/meters.js";
import type { BreakerState, NodeBreaker } from "../resilience/breaker.js";
import type { Entry } from "./entry.js";
import type { NodeClient } from "./NodeClient.js";

export interface NodeEvents {
  ready(node: NodeClient): void;
  down(node: NodeClient, cause: Error | undefined): void;
  error(node: NodeClient, error: Error): void;
  breaker(shard: string, node: string, state: BreakerState): void;
}

/** The role a node was sent as; checked with ROLE on every connect. */
export type NodeRole = "master" | "replica";

/** What a connection shares with the other connections to its node. */
export interface NodeContext {
  readonly breaker: NodeBreaker;
  readonly maxQueueLength: number;
  readonly retry: ResolvedRetryOptions;
  /** Watch for a node that stops answering (shared connections; never where commands block). */
  readonly detectStalls: boolean;
  /** Checked on connect when set; the registry updates it as the topology changes. */
  role: NodeRole | undefined;
  /** The node answered ROLE with another role: drop it, and have the topology re-read. */
  readonly onRoleMismatch?: (node: NodeClient, actual: string) => void;
  /** Re-route an entry (a write that got READONLY) to the shard's current master. */
  readonly redirect?: (node: NodeClient, entry: Entry) => void;
  /** Where commands are counted: the shard's meter for the node's current role (the registry swaps it on failover). */
  meter: RoleMeter;
  readonly nodeMeter: NodeMeter;
  /** Put command arguments in trace contexts. */
  readonly traceArgs: boolean;
}
