/** Errors of finding and following the fleet: Sentinel, replicas, a Redis Cluster, subscriptions. */
import { ShardisError } from "./base.js";

/** No sentinel could answer, or none knows the master name. */
export class SentinelError extends ShardisError {
  /** Already reported (as each sentinel's error, or as a refused address). */
  readonly reported: boolean;

  constructor(message: string, cause?: unknown, reported = false) {
    super("ERR_SHARDIS_SENTINEL", message, cause === undefined ? undefined : { cause });
    this.reported = reported;
  }
}

/** readFrom "replica" found no replica fit to read from (none, lagging, syncing or breaker open). */
export class NoReplicaAvailableError extends ShardisError {
  readonly shard: string;

  constructor(shard: string, reason: string) {
    super("ERR_SHARDIS_NO_REPLICA", `shard ${shard}: no replica to read from (${reason})`);
    this.shard = shard;
  }
}

/**
 * Redis Cluster trouble that is not one command's: no slot map could be
 * read (seeds that are not cluster nodes, or unreachable), a slot no master
 * serves, or redirections that did not settle. `node` names the node when
 * one is to blame.
 */
export class ClusterError extends ShardisError {
  readonly node: string | undefined;

  constructor(message: string, node?: string, cause?: unknown) {
    super("ERR_SHARDIS_CLUSTER", node ? `${node}: ${message}` : message, cause === undefined ? undefined : { cause });
    this.node = node;
  }
}

/**
 * Subscriptions could not be subscribed again on a shard after its
 * subscriber connection was re-established or replaced (reconnect,
 * failover, slot move). `refused`: the node said no (NOPERM: an ACL user
 * without the channel); otherwise no answer in time or no connection.
 * shardis asks again, with backoff, for as long as they stay subscribed.
 * Reported through the `subscription:error` event, never thrown at a caller.
 */
export class SubscriptionError extends ShardisError {
  readonly shard: string;
  /** "subscribe", "psubscribe" or "ssubscribe". */
  readonly command: string;
  /** The channels (or patterns) it failed for. */
  readonly names: readonly string[];
  readonly refused: boolean;

  constructor(shard: string, command: string, names: readonly string[], refused: boolean, cause: Error) {
    const what = `${command.toUpperCase()} of ${names.length} ${command === "psubscribe" ? "pattern(s)" : "channel(s)"}`;
    const next = refused ? "the node refused it; asked again quietly while subscribed" : "retried with backoff while subscribed";
    super("ERR_SHARDIS_SUBSCRIPTION", `shard ${shard}: ${what} failed on a re-established or new subscriber connection (${cause.message}); ${next}`, { cause });
    this.shard = shard;
    this.command = command;
    this.names = Object.freeze([...names]);
    this.refused = refused;
  }
}

/**
 * A command for a shard the client released: a live migration's `done`, or a
 * `reconfigure()`, removed it from the fleet (docs/scaling.md). Its index is
 * never given to another shard, so a `client.shard(name)` handle kept from
 * before fails with this instead of reaching another shard. Nothing was sent.
 */
export class ShardReleasedError extends ShardisError {
  readonly shard: string;

  constructor(shard: string) {
    super("ERR_SHARDIS_SHARD_RELEASED", `shard ${shard} was removed from the fleet (a migration or reconfigure()) and released: nothing is sent to it`);
    this.shard = shard;
  }
}

/**
 * A SCAN cursor (client.scan) kept across a change of the placement in force:
 * a reconfigure() without migration, or a migration's `switch` (and the
 * scanStream read at that moment). Keys changed owner between the shards it
 * already scanned and those it had yet to, so going on would skip or repeat
 * some: scan again from "0". A reconfigure() that only adds shards (a
 * migration starting) keeps cursors valid (docs/scaling.md).
 */
export class ScanCursorStaleError extends ShardisError {
  constructor() {
    super(
      "ERR_SHARDIS_SCAN_CURSOR_STALE",
      'the SCAN cursor is from before a change of the fleet\'s placement (reconfigure() or a migration\'s switch): keys changed shards since; scan again from "0"',
    );
  }
}
