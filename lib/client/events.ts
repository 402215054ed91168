/**
 * The events a ShardedClient emits (its own, and ioredis's for libraries
 * that listen to them), and the wiring that turns connection, topology and
 * pub/sub happenings into them.
 */
import type { EventEmitter } from "node:events";
import type { SubscriptionError } from "../errors.js";
import type { NodeClient, NodeEvents } from "../connection/NodeClient.js";
import type { Executor } from "../exec/Executor.js";
import type { FleetEvents } from "../exec/Fleet.js";
import { PubSub, type PubSubEvents, type PubSubHost } from "../pubsub/PubSub.js";
import { PrefixingPubSub } from "../pubsub/PrefixingPubSub.js";
import type { BreakerState } from "../resilience/breaker.js";
import type { NoPermissionError } from "../errors.js";
import type { Lifecycle } from "./lifecycle.js";
import type { Phase as MigrationPhase } from "../migration/clock.js";
import { serving } from "../topology/Topology.js";

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
  /**
   * Subscriptions could not be subscribed again on a shard after its subscriber connection was
   * re-established or replaced; retried while subscribed. `refused`: the node said no (reported once).
   */
  "subscription:error": [
    {
      readonly shard: string;
      readonly command: string;
      /** The channels or patterns. */
      readonly names: readonly string[];
      readonly refused: boolean;
      readonly error: SubscriptionError;
    },
  ];
  /** A new topology took effect (a new epoch). */
  topology: [{ readonly epoch: number; readonly reason: string }];
  /** A shard's master moved to another node. */
  failover: [{ readonly shard: string; readonly from: string; readonly to: string }];
  /** A sentinel reported an address (a node's or another sentinel's) outside allowedAddresses, or the natMap failed on it; it was not used. */
  "topology:refused": [{ readonly shard: string; readonly address: string; readonly reason: string }];
  /** A sentinel could not be reached or answered with an error. Secrets are stripped. */
  "sentinel:error": [{ readonly sentinel: string; readonly error: Error }];
  /** A cluster node could not be asked for the slot map, or answered with an error; the next one is asked. */
  "cluster:error": [{ readonly node: string; readonly error: Error }];
  /**
   * A node's ACL refused a command shardis sends on its own (ROLE, INFO, CLIENT TRACKING, READONLY, WAIT):
   * `command` was refused, `fix` is the ACL rule that restores it, `error.degraded` what goes without it.
   * The node keeps serving. Once per node and feature.
   */
  "acl:refused": [NodeEvent & { readonly command: string; readonly fix: string; readonly error: NoPermissionError }];
  /** The near cache could not turn client tracking on for a shard (an old server, a proxy): that shard is read from Redis. */
  "nearcache:error": [{ readonly shard: string; readonly error: Error }];
  /**
   * client.cache(): a loader failed, or the cache's node could not be used; `served` is what the
   * callers got instead: the stale value, the loader's value (the cache was skipped), or the error.
   */
  /**
   * A live migration of the fleet entered a phase (docs/scaling.md): noticed by the first command at or
   * after the boundary, so a client that sends nothing hears of it with its next command.
   */
  "migration:phase": [{ readonly phase: MigrationPhase; readonly previous: MigrationPhase }];
  "cache:error": [{ readonly namespace: string; readonly key: string; readonly error: Error; readonly served: "stale" | "loader" | "error" | "none" }];

  // ioredis's events, as libraries written for it expect them.
  /** Every shard's master connected (first time), before "ready". */
  connect: [];
  /** Every shard's master is connected (first time), or one is again after all were lost. */
  ready: [];
  /** A node connection failed (the same error as "node:error"); only emitted when something listens. */
  error: [Error];
  /** No master is reachable any more, or the client is closing. */
  close: [];
  /** No master is reachable (or a master's attempt to reconnect failed meanwhile): the ms before its next attempt. */
  reconnecting: [delayMs: number];
  /** quit() or disconnect() finished: every connection is closed. */
  end: [];
  /** A message on a channel subscribed without a handler. */
  message: [channel: string, message: string];
  messageBuffer: [channel: Buffer, message: Buffer];
  /** A message matching a pattern subscribed without a handler. */
  pmessage: [pattern: string, channel: string, message: string];
  pmessageBuffer: [pattern: Buffer, channel: Buffer, message: Buffer];
  /** A message on a sharded channel subscribed without a handler (SSUBSCRIBE). */
  smessage: [channel: string, message: string];
  smessageBuffer: [channel: Buffer, message: Buffer];
}

/** What the client's event wiring reaches: set after the executor is built, so read through getters. */
export interface Wired {
  lifecycle(): Lifecycle | undefined;
  pubsub(): PubSub | undefined;
}

type Emitter = Pick<EventEmitter<ShardisEvents>, "emit" | "listenerCount">;

/** The error with `shard` and `node` set, unless it names them already (a NodeError does). */
function named(error: Error, where: { shard: string; node: string }): Error {
  if (!("shard" in error)) Object.assign(error, where);
  return error;
}

/** Connection events, as the client's events; each may change the client's status. */
export function nodeEvents(client: Emitter, wired: Wired): NodeEvents {
  const at = (node: NodeClient) => ({ shard: node.shard, node: node.id });
  return {
    ready: (node) => {
      client.emit("node:ready", at(node));
      wired.lifecycle()?.update();
    },
    down: (node, error) => {
      client.emit("node:down", { ...at(node), error });
      wired.lifecycle()?.update();
    },
    error: (node, error) => {
      client.emit("node:error", { ...at(node), error });
      // ioredis's "error" event, for libraries that listen to it; never emitted unheard (it would throw). The error
      // stays ioredis's (code ECONNREFUSED, ...), with the shard and node it came from added: logs name them.
      if (client.listenerCount("error") > 0) client.emit("error", named(error, at(node)));
    },
    // ioredis's close and reconnecting once per failed attempt, while no master is reachable (lifecycle.ts).
    reconnecting: (node, delayMs) => wired.lifecycle()?.attempt(node, delayMs),
    breaker: (shard, node, state) => client.emit("breaker", { shard, node, state }),
  };
}

/** Topology events, as the client's events; subscriptions and status follow a master that moved. */
export function fleetEvents(client: Emitter, wired: Wired): FleetEvents {
  return {
    topology: (epoch, reason) => {
      // Sharded channels follow their slot when a cluster reshards.
      wired.pubsub()?.remap();
      client.emit("topology", { epoch, reason });
    },
    failover: (shard, from, to) => client.emit("failover", { shard, from, to }),
    refused: (shard, address, reason) => client.emit("topology:refused", { shard, address, reason }),
    sentinelError: (sentinel, error) => client.emit("sentinel:error", { sentinel, error }),
    clusterError: (node, error) => client.emit("cluster:error", { node, error }),
    nearCacheError: (shard, error) => client.emit("nearcache:error", { shard, error }),
    aclRefused: (error) => client.emit("acl:refused", { shard: error.shard, node: error.node, command: error.command, fix: error.fix, error }),
    mastersChanged: (shards) => {
      wired.pubsub()?.follow(shards);
      wired.lifecycle()?.update();
    },
  };
}

/** The client's pub/sub: subscriber connections from the executor, deliveries as the client's events; `closed`'s subscriptions carried over (a reopen). */
export function clientPubSub(executor: Executor, client: Emitter, closed?: PubSub): PubSub {
  // With a keyPrefix, sharded channels carry it, as SPUBLISH's do (pubsub/PrefixingPubSub).
  const prefix = executor.options.keyPrefix;
  const make = (host: PubSubHost, events: PubSubEvents) => (prefix ? new PrefixingPubSub(host, events, prefix) : new PubSub(host, events));
  const pubsub = make(
    {
      mapped: () => executor.mapped(executor.defaults.timeoutMs),
      clusterWide: executor.options.cluster !== undefined,
      get shardCount() {
        return executor.shardNames.length;
      },
      serves: (shard) => serving(executor.fleet.holder.current.shards[shard]),
      shardOf: (channel) => executor.strategy.shardIndexOf(channel),
      channelShards: (channel) => executor.moves.channelShards(channel),
      shardName: (shard) => executor.shardName(shard),
      open: (shard, watch) => executor.openDedicated(shard, watch),
      timeoutMs: executor.defaults.timeoutMs,
      get closed() {
        return executor.closed;
      },
    },
    {
      message: (channel, message) => {
        client.emit("message", channel.toString(), message.toString());
        client.emit("messageBuffer", channel, message);
      },
      pmessage: (pattern, channel, message) => {
        client.emit("pmessage", pattern.toString(), channel.toString(), message.toString());
        client.emit("pmessageBuffer", pattern, channel, message);
      },
      smessage: (channel, message) => {
        client.emit("smessage", channel.toString(), message.toString());
        client.emit("smessageBuffer", channel, message);
      },
      handlerError: (error, channel) => client.emit("pubsub:error", { channel, error }),
      subscriptionError: (error) =>
        client.emit("subscription:error", { shard: error.shard, command: error.command, names: error.names, refused: error.refused, error }),
    },
  );
  // A migration configured or done moves where channels are listened to.
  executor.moves.onPlacement = () => pubsub.resync();
  if (closed) pubsub.carryOver(closed);
  return pubsub;
}
