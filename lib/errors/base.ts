/** The root of every shardis error (a stable `code`), and of the errors tied to one node. */
export type ShardisErrorCode =
  | "ERR_SHARDIS_CONFIG"
  | "ERR_SHARDIS_INVALID_ARGUMENT"
  | "ERR_SHARDIS_CROSS_SHARD"
  | "ERR_SHARDIS_KEYLESS_COMMAND"
  | "ERR_SHARDIS_UNKNOWN_COMMAND"
  | "ERR_SHARDIS_UNSUPPORTED_COMMAND"
  | "ERR_SHARDIS_UNKNOWN_SHARD"
  | "ERR_SHARDIS_SHARD_RELEASED"
  | "ERR_SHARDIS_SCAN_CURSOR_STALE"
  | "ERR_SHARDIS_CLIENT_CLOSED"
  | "ERR_SHARDIS_ALREADY_CONNECTED"
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
  | "ERR_SHARDIS_CACHE_LOAD"
  | "ERR_SHARDIS_MIGRATION_REFUSED"
  | "ERR_SHARDIS_MIGRATION_WRITE"
  | "ERR_SHARDIS_MIGRATION_COPY"
  | "ERR_SHARDIS_RECONFIGURE";

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

/**
 * Base for failures tied to one node: `shard` and `node` name it, and the
 * message names them too, unless a message of ioredis's own is given
 * (libraries compare messages with ioredis's texts).
 */
export abstract class NodeError extends ShardisError {
  readonly shard: string;
  readonly node: string;

  constructor(code: ShardisErrorCode, shard: string, node: string, detail: string, cause?: unknown, message = `shard ${shard} (${node}): ${detail}`) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.shard = shard;
    this.node = node;
  }
}
