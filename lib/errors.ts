/**
 * Every error shardis raises is a ShardisError with a stable `code`; callers
 * branch on `code` or `instanceof`, never on message text. Replies that Redis
 * itself sends (WRONGTYPE, NOSCRIPT, ...) pass through unchanged as ioredis
 * ReplyErrors: they are the server's answer, not a shardis failure.
 */

export * from "./errors/base.js";
export * from "./errors/calls.js";
export * from "./errors/nodes.js";
export * from "./errors/topology.js";
export * from "./errors/cache.js";
export * from "./errors/migration.js";
