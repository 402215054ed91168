/**
 * Every error shardis raises is a ShardisError with a stable `code`; callers
 * branch on `code` or `instanceof`, never on message text. Replies that Redis
 * itself sends (WRONGTYPE, NOSCRIPT, ...) pass through unchanged as ioredis
 * ReplyErrors: they are the server's answer, not a shardis failure.
 */

export type ShardisErrorCode =
  | "ERR_SHARDIS_CONFIG"
  | "ERR_SHARDIS_INVALID_ARGUMENT"
  | "ERR_SHARDIS_CROSS_SHARD"
  | "ERR_SHARDIS_KEYLESS_COMMAND"
  | "ERR_SHARDIS_UNKNOWN_COMMAND"
  | "ERR_SHARDIS_UNSUPPORTED_COMMAND"
  | "ERR_SHARDIS_UNKNOWN_SHARD"
  | "ERR_SHARDIS_CLIENT_CLOSED"
  | "ERR_SHARDIS_CONNECTION"
  | "ERR_SHARDIS_TIMEOUT"
  | "ERR_SHARDIS_AUTH"
  | "ERR_SHARDIS_DATABASE"
  | "ERR_SHARDIS_PARTIAL_FAILURE"
  | "ERR_SHARDIS_POOL_EXHAUSTED"
  | "ERR_SHARDIS_ALREADY_EXECUTED"
  | "ERR_SHARDIS_CONNECTION_RELEASED"
  | "ERR_SHARDIS_WATCH_LOST"
  | "ERR_SHARDIS_CIRCUIT_OPEN"
  | "ERR_SHARDIS_QUEUE_FULL"
  | "ERR_SHARDIS_FALLBACK_FAILED"
  | "ERR_SHARDIS_SENTINEL"
  | "ERR_SHARDIS_NO_REPLICA"
  | "ERR_SHARDIS_WRITE_CONCERN"
  | "ERR_SHARDIS_NO_PERMISSION"
  | "ERR_SHARDIS_CLUSTER"
  | "ERR_SHARDIS_SUBSCRIPTION"
  | "ERR_SHARDIS_SLOT_MOVED"
  | "ERR_SHARDIS_CACHE_ARGUMENT"
  | "ERR_SHARDIS_CACHE_SERIALIZATION"
  | "ERR_SHARDIS_CACHE_TIMEOUT"
  | "ERR_SHARDIS_CACHE_LOAD_TIMEOUT"
  | "ERR_SHARDIS_CACHE_LOAD";

export class ShardisError extends Error {
  readonly code: ShardisErrorCode;

  constructor(code: ShardisErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** The options given to the constructor are invalid; `problems` lists each one. */
export class ConfigError extends ShardisError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    super("ERR_SHARDIS_CONFIG", `invalid shardis options (${count}):\n  - ${problems.join("\n  - ")}`);
    this.problems = Object.freeze([...problems]);
  }
}

/** A call was made with an argument shardis cannot use (wrong type, out of range). */
export class InvalidArgumentError extends ShardisError {
  constructor(message: string) {
    super("ERR_SHARDIS_INVALID_ARGUMENT", message);
  }
}

/** A multi-key command whose keys live on more than one shard and cannot be split. */
export class CrossShardError extends ShardisError {
  readonly command: string;
  readonly shards: readonly string[];

  constructor(command: string, shards: readonly string[], hint: string) {
    super(
      "ERR_SHARDIS_CROSS_SHARD",
      `${command.toUpperCase()} keys span shards ${shards.join(", ")}; ${hint}`,
    );
    this.command = command;
    this.shards = Object.freeze([...shards]);
  }
}

/** A command with no key (KEYS, FLUSHDB, CLIENT, ...), or a script called without keys, has no shard to go to. */
export class KeylessCommandError extends ShardisError {
  readonly command: string;

  constructor(command: string, what: "command" | "script" = "command") {
    super(
      "ERR_SHARDIS_KEYLESS_COMMAND",
      what === "script"
        ? `script ${JSON.stringify(command)} was called without keys, so it has no shard; ` +
            `define it with { shard: name }, or call client.shard(name)[${JSON.stringify(command)}](...)`
        : `${command.toUpperCase()} has no key to route by; send it to one shard with ` +
            `client.shard(name).${command.toLowerCase()}(...)`,
    );
    this.command = command;
  }
}

/** A command name the bundled command table does not know, so its keys cannot be found. */
export class UnknownCommandError extends ShardisError {
  readonly command: string;

  constructor(command: string) {
    super(
      "ERR_SHARDIS_UNKNOWN_COMMAND",
      `unknown command ${JSON.stringify(command)}: shardis cannot tell which arguments are keys; ` +
        `send it to one shard with client.shard(name).call(...)`,
    );
    this.command = command;
  }
}

/** A command that would break the shared connection (SELECT, SUBSCRIBE, QUIT, ...). */
export class UnsupportedCommandError extends ShardisError {
  readonly command: string;

  constructor(command: string, reason: string) {
    super("ERR_SHARDIS_UNSUPPORTED_COMMAND", `${command.toUpperCase()} is not supported here: ${reason}`);
    this.command = command;
  }
}

export class UnknownShardError extends ShardisError {
  readonly shard: string;

  constructor(shard: string, known: readonly string[]) {
    super("ERR_SHARDIS_UNKNOWN_SHARD", `no shard named ${JSON.stringify(shard)} (shards: ${known.join(", ")})`);
    this.shard = shard;
  }
}

/** The client was closed with quit(); it accepts no more commands. */
export class ClientClosedError extends ShardisError {
  constructor() {
    super("ERR_SHARDIS_CLIENT_CLOSED", "the client is closed (quit() was called)");
  }
}

/** Base for failures tied to one node; the message always names shard and address. */
export abstract class NodeError extends ShardisError {
  readonly shard: string;
  readonly node: string;

  constructor(code: ShardisErrorCode, shard: string, node: string, detail: string, cause?: unknown) {
    super(code, `shard ${shard} (${node}): ${detail}`, cause === undefined ? undefined : { cause });
    this.shard = shard;
    this.node = node;
  }
}

/** The connection to the node failed or was lost; for a command in flight, it may or may not have run. */
export class ConnectionError extends NodeError {
  constructor(shard: string, node: string, detail: string, cause?: unknown) {
    super("ERR_SHARDIS_CONNECTION", shard, node, detail, cause);
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

/** The node refused the configured credentials. The message never contains them. */
export class AuthenticationError extends NodeError {
  constructor(shard: string, node: string, serverMessage: string) {
    super("ERR_SHARDIS_AUTH", shard, node, `authentication failed: ${serverMessage}`);
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

/** The fallback given in the options threw or rejected; `cause` is what it threw. */
export class FallbackError extends ShardisError {
  readonly command: string;

  constructor(command: string, cause: unknown) {
    super("ERR_SHARDIS_FALLBACK_FAILED", `the fallback for ${command.toUpperCase()} failed: ${String((cause as Error)?.message ?? cause)}`, { cause });
    this.command = command;
  }
}

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
 * A command sent to several shards (a split MGET/MSET/DEL, or a pipeline)
 * failed on some of them; on the others it ran. `results` holds what a
 * pipeline got, entry by entry.
 */
export class PartialFailureError extends ShardisError {
  readonly command: string;
  readonly failures: ReadonlyArray<{ shard: string; error: Error }>;
  readonly succeeded: readonly string[];
  readonly results: ReadonlyArray<[Error | null, unknown]> | undefined;

  constructor(
    command: string,
    failures: Array<{ shard: string; error: Error }>,
    succeeded: string[],
    results?: Array<[Error | null, unknown]>,
  ) {
    const failed = failures.map((f) => `${f.shard}: ${f.error.message}`).join("; ");
    const ran = succeeded.length ? `; it ran on ${succeeded.join(", ")}` : "";
    super(
      "ERR_SHARDIS_PARTIAL_FAILURE",
      `${command.toUpperCase()} failed on ${failures.length} shard(s) (${failed})${ran}`,
      { cause: failures[0]?.error },
    );
    this.command = command;
    this.failures = Object.freeze([...failures]);
    this.succeeded = Object.freeze([...succeeded]);
    this.results = results && Object.freeze([...results]);
  }
}

/** exec() was called a second time on the same pipeline or transaction. */
export class AlreadyExecutedError extends ShardisError {
  constructor(what: "pipeline" | "transaction") {
    super("ERR_SHARDIS_ALREADY_EXECUTED", `this ${what} was already executed; build a new one`);
  }
}

/** A connection lent by withConnection() was used after its callback finished. */
export class ConnectionReleasedError extends ShardisError {
  constructor() {
    super("ERR_SHARDIS_CONNECTION_RELEASED", "this dedicated connection went back to the pool when the withConnection() callback finished");
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

  constructor(shard: string, node: string, slot: number, owner: string, redirect: "MOVED" | "ASK") {
    const where = redirect === "MOVED" ? `is served by ${owner} now` : `is migrating to ${owner}, where the key is`;
    super("ERR_SHARDIS_SLOT_MOVED", shard, node, `slot ${slot} ${where} (${redirect}); the command did not run, and this connection cannot follow it`);
    this.slot = slot;
    this.owner = owner;
    this.redirect = redirect;
  }
}

/** What the cache layer (client.cache()) raises at call time; options are checked by cache() itself (ConfigError). */
export abstract class CacheError extends ShardisError {
  /** The cache's namespace. */
  readonly namespace: string;

  constructor(code: ShardisErrorCode, namespace: string, message: string, cause?: unknown) {
    super(code, `cache "${namespace}": ${message}`, cause === undefined ? undefined : { cause });
    this.namespace = namespace;
  }
}

/** A key that is not a string or Buffer, or per-call options out of range. Nothing was sent. */
export class CacheArgumentError extends CacheError {
  constructor(namespace: string, message: string) {
    super("ERR_SHARDIS_CACHE_ARGUMENT", namespace, message);
  }
}

/** The value could not be encoded (JSON refuses it: a BigInt, a cycle) or the serializer threw. Nothing was written. */
export class CacheSerializationError extends CacheError {
  constructor(namespace: string, cause: unknown) {
    super("ERR_SHARDIS_CACHE_SERIALIZATION", namespace, `the value could not be encoded: ${(cause as Error)?.message ?? String(cause)}`, cause);
  }
}

/** No value within waitTimeoutMs: another caller's load did not finish in time, or this caller's own loader did not. */
export class CacheTimeoutError extends CacheError {
  readonly waitTimeoutMs: number;

  constructor(namespace: string, key: string, waitTimeoutMs: number, why: string) {
    super("ERR_SHARDIS_CACHE_TIMEOUT", namespace, `no value for ${JSON.stringify(key)} within ${waitTimeoutMs} ms: ${why}`);
    this.waitTimeoutMs = waitTimeoutMs;
  }
}

/**
 * The loader ran past loadTimeoutMs: the load was abandoned (its signal
 * aborted, its rebuild lock given up so another process can load, its value
 * never written if it comes at last).
 */
export class CacheLoadTimeoutError extends CacheError {
  readonly loadTimeoutMs: number;

  constructor(namespace: string, key: string, loadTimeoutMs: number) {
    super(
      "ERR_SHARDIS_CACHE_LOAD_TIMEOUT",
      namespace,
      `the loader of ${JSON.stringify(key)} ran past loadTimeoutMs (${loadTimeoutMs} ms): its signal was aborted and its rebuild lock given up; a value it returns later is not written`,
    );
    this.loadTimeoutMs = loadTimeoutMs;
  }
}

/** The load this caller waited for failed in another process; `message` is that loader's error message. The next call loads again. */
export class CacheLoadError extends CacheError {
  constructor(namespace: string, key: string, message: string) {
    super("ERR_SHARDIS_CACHE_LOAD", namespace, `the load of ${JSON.stringify(key)} failed in another process: ${message}`);
  }
}

