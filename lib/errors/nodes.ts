/** Errors tied to one node: the message names its shard and address. */
import { NodeError } from "./base.js";

/** The connection to the node failed or was lost; for a command in flight, it may or may not have run. */
export class ConnectionError extends NodeError {
  /** `message`: ioredis's own text where ioredis would fail the command the same way (the shard and node stay in their fields). */
  constructor(shard: string, node: string, detail: string, cause?: unknown, message?: string) {
    super("ERR_SHARDIS_CONNECTION", shard, node, detail, cause, message);
  }
}

/**
 * ioredis's MaxRetriesPerRequestError: `redis.maxRetriesPerRequest` failed
 * attempts in a row (plus one) to connect failed the commands waiting for the
 * connection, as ioredis flushes its offline queue. Its `name` and message are
 * ioredis's (libraries read them); a ConnectionError (same `code`), so code
 * handling connection failures handles it too. Nothing was written.
 */
export class MaxRetriesPerRequestError extends ConnectionError {
  readonly maxRetriesPerRequest: number;

  constructor(shard: string, node: string, maxRetriesPerRequest: number, cause?: unknown) {
    const message = `Reached the max retries per request limit (which is ${maxRetriesPerRequest}). Refer to "maxRetriesPerRequest" option for details.`;
    super(shard, node, message, cause, message);
    this.maxRetriesPerRequest = maxRetriesPerRequest;
  }
}

/** No reply arrived before the command's deadline (time spent queued counts). */
export class TimeoutError extends NodeError {
  readonly timeoutMs: number;

  constructor(shard: string, node: string, timeoutMs: number, detail: string, cause?: unknown) {
    super("ERR_SHARDIS_TIMEOUT", shard, node, `no reply within ${timeoutMs} ms (${detail})`, cause);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The node refused the credentials: on a new connection's handshake, or an
 * open connection's re-authentication (`redis.reauthenticateEveryMs`; that
 * connection stays authenticated as before). `user` is the ACL user that
 * was refused; the message names it and never contains the password.
 */
export class AuthenticationError extends NodeError {
  readonly user: string;

  constructor(shard: string, node: string, user: string, serverMessage: string) {
    super("ERR_SHARDIS_AUTH", shard, node, `authentication failed for user "${user}": ${serverMessage}`);
    this.user = user;
  }
}

/**
 * The node refused to SELECT the configured `redis.db` (out of range, or an
 * ACL user without +select). Commands to the node fail fast with it rather
 * than run on another database, until a connection selects it.
 */
export class DatabaseError extends NodeError {
  readonly db: number;

  constructor(shard: string, node: string, db: number, cause: Error) {
    super(
      "ERR_SHARDIS_DATABASE",
      shard,
      node,
      `SELECT ${db} refused (${cause.message}); commands fail rather than run on another database: check redis.db and the user's ACL (+select)`,
      cause,
    );
    this.db = db;
  }
}

/** The node's circuit breaker is open: the command failed fast, without touching the socket. */
export class CircuitOpenError extends NodeError {
  readonly retryInMs: number;

  constructor(shard: string, node: string, reason: string, retryInMs: number) {
    super("ERR_SHARDIS_CIRCUIT_OPEN", shard, node, `circuit open (${reason}); next probe in ${retryInMs} ms`);
    this.retryInMs = retryInMs;
  }
}

/** Too many commands already wait for the node's connection; this one failed fast. */
export class QueueFullError extends NodeError {
  constructor(shard: string, node: string, limit: number) {
    super("ERR_SHARDIS_QUEUE_FULL", shard, node, `${limit} commands already wait for the connection (maxQueueLength)`);
  }
}

/**
 * The write was applied on the master (`reply` is its reply), but fewer
 * replicas than asked confirmed it in time, or WAIT itself failed after the
 * write (refused, connection lost, timed out): then `cause` is WAIT's error
 * and `acknowledged` is 0, as no confirmation arrived.
 */
export class WriteConcernError extends NodeError {
  readonly reply: unknown;
  readonly acknowledged: number;
  readonly required: number;

  /** `waitError`: WAIT failed after the write succeeded (refused by the ACL: a NoPermissionError; connection lost; deadline). */
  constructor(shard: string, node: string, required: number, acknowledged: number, timeoutMs: number, reply: unknown, waitError?: unknown) {
    super(
      "ERR_SHARDIS_WRITE_CONCERN",
      shard,
      node,
      waitError === undefined
        ? `written on the master, but ${acknowledged} of ${required} replica(s) confirmed it within ${timeoutMs} ms; a failover now could lose it`
        : waitError instanceof NoPermissionError
          ? `written on the master, but WAIT was refused by the ACL (${waitError.fix}): no replica could confirm it; a failover now could lose it`
          : `written on the master, but WAIT failed (${String((waitError as Error)?.message ?? waitError)}): ` +
            `whether ${required} replica(s) have it is unknown; a failover now could lose it`,
      waitError,
    );
    this.reply = reply;
    this.acknowledged = acknowledged;
    this.required = required;
  }
}

/**
 * The node's ACL refused a command shardis sends on its own (ROLE, INFO,
 * CLIENT TRACKING, READONLY, WAIT, ...): `command` is what was refused,
 * `degraded` what goes without it, `fix` the ACL rule that restores it.
 * Reported once per node and feature on the client's `acl:refused` event;
 * the node keeps serving. Never contains credentials.
 */
export class NoPermissionError extends NodeError {
  readonly command: string;
  readonly degraded: string;
  readonly fix: string;

  constructor(shard: string, node: string, command: string, degraded: string, fix: string, cause?: unknown) {
    super("ERR_SHARDIS_NO_PERMISSION", shard, node, `the ACL user may not run ${command} (NOPERM): ${degraded}. Fix: ${fix}`, cause);
    this.command = command;
    this.degraded = degraded;
    this.fix = fix;
  }
}

/** No dedicated connection to the node became free within the pool's acquire timeout. */
export class PoolExhaustedError extends NodeError {
  constructor(shard: string, node: string, max: number, waitedMs: number) {
    super(
      "ERR_SHARDIS_POOL_EXHAUSTED",
      shard,
      node,
      `all ${max} dedicated connections busy for ${waitedMs} ms (raise pool.max or pool.acquireTimeoutMs)`,
    );
  }
}

/**
 * A dedicated connection lost the state its caller set up on it (a WATCH,
 * or a block opened with multi({ pipeline: false })): the connection dropped
 * and reconnected, and the server forgot that state with the old socket.
 * Nothing was sent in the lost state's name: EXEC did not run, and commands
 * meant for inside the block did not run outside it. Start the optimistic
 * transaction again (as after EXEC returned null).
 */
export class WatchLostError extends NodeError {
  /** What was lost: the WATCH, the open MULTI block, or both. */
  readonly lost: "watch" | "multi" | "watch+multi";

  constructor(shard: string, node: string, lost: "watch" | "multi" | "watch+multi") {
    const what = lost === "watch" ? "WATCH" : lost === "multi" ? "MULTI block" : "WATCH and MULTI block";
    super("ERR_SHARDIS_WATCH_LOST", shard, node, `the connection was lost after ${what} was set up on it; the server forgot it, so nothing more was sent in its name (start the transaction again)`);
    this.lost = lost;
  }
}

/**
 * Over a Redis Cluster, a command on a connection that cannot follow a
 * redirect (a dedicated connection from withConnection(): its WATCH and
 * MULTI state live on that one node) was answered MOVED (the key's slot is
 * served by `owner` now) or ASK (the slot is migrating to `owner` and the
 * key is there). The command did not run. `node` is the node the connection
 * goes to.
 */
export class SlotMovedError extends NodeError {
  readonly slot: number;
  /** "host:port" of the node the cluster named. */
  readonly owner: string;
  readonly redirect: "MOVED" | "ASK";

  /** `cause`: the server's reply (a transaction's EXEC, or EXECABORT with its refusals). */
  constructor(shard: string, node: string, slot: number, owner: string, redirect: "MOVED" | "ASK", cause?: unknown) {
    const where = redirect === "MOVED" ? `is served by ${owner} now` : `is migrating to ${owner}, where the key is`;
    super("ERR_SHARDIS_SLOT_MOVED", shard, node, `slot ${slot} ${where} (${redirect}); the command did not run, and this connection cannot follow it`, cause);
    this.slot = slot;
    this.owner = owner;
    this.redirect = redirect;
  }
}
