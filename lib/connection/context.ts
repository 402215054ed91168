/**
 * What a connection shares with the other connections to its node (breaker,
 * limits, role, observers) and the events it reports, kept apart from the
 * connection so pooled and subscriber connections can take a view of it.
 */
import type { ResolvedRetryOptions } from "../config/resolve.js";
import type { BreakerState } from "../resilience/breaker.js";
import type { Entry } from "./entry.js";
import type { CommandObserver, NodeObserver } from "./observer.js";
import type { NodeClient } from "./NodeClient.js";
import type { ShardisCommand } from "../commands/command.js";
import type { AclFeatureName } from "./aclRefusals.js";
import type { ReauthRegistry } from "./reauth.js";
import type { Address } from "../config/types.js";
import type { ConnectionFactory } from "./connection.js";
import type { FlushScheduler } from "./scheduler.js";
import type { WaitRules } from "./waiting.js";

/** A hand-over of an entry to another node: done at once (void), or once the promise settles. */
export type HandOver = void | Promise<void>;

export type { BreakerState };

/** A node's circuit breaker, as its connections use it (resilience/NodeBreaker, or a fake). */
export interface Breaker {
  /** Whether commands may be sent now. */
  readonly admits: boolean;
  readonly state: BreakerState;
  /** Why it last opened. */
  readonly reason: string;
  /** Milliseconds until the next probe. */
  readonly retryInMs: number;
  /** Trip when nothing was answered for this long, in ms; undefined: no stall detection. */
  readonly stallMs: number | undefined;
  /** Outcomes of commands that reached the node. */
  record(successes: number, failures: number): void;
  /** Opens now, for failures that need no statistics. */
  trip(reason: string): void;
  /** Calls listener each time the breaker opens; returns the function that stops it. */
  onOpen(listener: () => void): () => void;
}

/** A breaker that never opens: for connections outside the node's accounting (cluster control connections). */
export const NEVER_OPENS: Breaker = Object.freeze({
  admits: true,
  state: "closed" as const,
  reason: "",
  retryInMs: 0,
  stallMs: undefined,
  record: () => undefined,
  trip: () => undefined,
  onOpen: () => () => undefined,
});

export interface NodeEvents {
  ready(node: NodeClient): void;
  down(node: NodeClient, cause: Error | undefined): void;
  error(node: NodeClient, error: Error): void;
  /** The connection was lost, or an attempt to reconnect failed: it tries again in `delayMs`. */
  reconnecting?(node: NodeClient, delayMs: number): void;
  breaker(shard: string, node: string, state: BreakerState): void;
}

/**
 * Client tracking on a node's shared connection (the near cache): turned on
 * at every connect, ahead of anything queued, and reported.
 */
export interface TrackingHooks {
  /** The CLIENT command's arguments that turn tracking on ("TRACKING", "ON", ...). */
  readonly command: readonly string[];
  /** Tracking is on for this connection: what it reads from now on is tracked. */
  on(node: NodeClient): void;
  /** Tracking could not be turned on (an old server or a proxy). */
  refused(node: NodeClient, error: Error): void;
  /** Redis reports these keys changed; null: every key (FLUSHALL, FLUSHDB). */
  invalidated(node: NodeClient, keys: string[] | null): void;
  /** The connection is gone: changes are no longer reported. */
  lost(node: NodeClient): void;
}

/** The role a node was sent as; checked with ROLE on every connect. */
export type NodeRole = "master" | "replica";

/** What a connection shares with the other connections to its node (and ioredis's rules for commands waiting for it: waiting.ts). */
export interface NodeContext extends WaitRules {
  readonly breaker: Breaker;
  readonly maxQueueLength: number;
  /** A long turn writes what it has queued once the oldest command has waited this long (ms; Infinity: end of turn only). */
  readonly maxWriteDelayMs: number;
  readonly retry: ResolvedRetryOptions;
  /** Watch for a node that stops answering (shared connections; never where commands block). */
  readonly detectStalls: boolean;
  /** Checked on connect when set; the registry updates it as the topology changes. */
  role: NodeRole | undefined;
  /**
   * A command the connection sends on its own for a feature (ROLE, READONLY)
   * was answered with an error: the feature goes without it; reported once
   * per node and feature when it is an ACL's NOPERM.
   */
  readonly refused?: (node: NodeClient, feature: AclFeatureName, error: Error) => void;
  /** The node answered ROLE with another role: have the topology re-read. */
  readonly onRoleMismatch?: (node: NodeClient, actual: string) => void;
  /**
   * Re-route an entry (a write that got READONLY: `error`) to the shard's current master. A promise: it waits (a map
   * re-read) and settles once the entry is handed over; what this connection hands over after it waits for it.
   */
  readonly redirect?: (node: NodeClient, entry: Entry, error: Error) => HandOver;
  /** Over a Redis Cluster: a command answered MOVED or ASK goes where the reply points (set only there); as `redirect`. */
  readonly clusterRedirect?: (node: NodeClient, entry: Entry, kind: "moved" | "ask", address: string, slot: number) => HandOver;
  /**
   * Commands sent on every new connection once its role is confirmed, before
   * anything queued (READONLY on a cluster), each with the feature that goes
   * without it if the node refuses it.
   */
  readonly onConnect?: ReadonlyArray<readonly [command: string, feature: AclFeatureName]>;
  /** Client tracking (near cache) on the node's shared connection; never on dedicated ones. */
  readonly tracking?: TrackingHooks;
  /**
   * Every command written to the node on any of its connections, before it
   * is sent (the near cache drops what writes touch); `tracked`: on the
   * connection that has tracking on; `connection`: which one (a MULTI
   * block's commands are those sent on it between MULTI and EXEC).
   */
  readonly sending?: (cmd: ShardisCommand, tracked: boolean, connection: object) => void;
  /** Re-authentication of open connections (redis.reauthenticateEveryMs): each connection registers while ready. */
  readonly reauth?: ReauthRegistry;
  /** Where commands are reported: the shard's observer for the node's current role (swapped on failover). */
  observer: CommandObserver;
  readonly nodeObserver: NodeObserver;
}

/** What a NodeClient is made of: its node, where its connection comes from, and what it shares with the node's others. */
export interface NodeClientInit {
  readonly shard: string;
  readonly address: Address;
  readonly connections: ConnectionFactory;
  readonly scheduler: FlushScheduler;
  readonly events: NodeEvents;
  readonly context: NodeContext;
}

/** Pub/sub deliveries on a subscriber connection, binary-safe. */
export interface MessageHandlers {
  readonly message: (channel: Buffer, message: Buffer) => void;
  readonly pmessage: (pattern: Buffer, channel: Buffer, message: Buffer) => void;
  readonly smessage: (channel: Buffer, message: Buffer) => void;
}
