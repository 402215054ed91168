/**
 * The command methods a sharded client advertises: ioredis's RedisCommander
 * minus those that can never work across shards. Those keep a signature
 * whose parameter says what to do instead, so a call is a compile-time
 * error ("use client.shard(name)") rather than a rejection at run time.
 * At run time they still reject with KeylessCommandError or
 * UnsupportedCommandError (INFO, for libraries, answers per shard).
 */
import type { ChainableCommander, RedisCommander } from "ioredis";

/**
 * Commands without a key to route by (KEYS, FLUSHDB, INFO, CONFIG, ...) and
 * commands that would change a shared connection (SELECT, AUTH, ...).
 * Checked against the command table by test/unit/clientTypes.test.ts.
 */
export const SHARD_ONLY = [
  "acl", "asking", "auth", "backup", "bgrewriteaof", "bgsave", "client", "cluster", "command", "config", "debug",
  "discard", "echo", "exec", "failover", "flushall", "flushdb", "hello", "hotkeys", "info", "keys", "lastsave",
  "latency", "lolwut", "module", "monitor", "pfselftest", "psync", "randomkey", "readonly", "readwrite", "replconf",
  "replicaof", "reset", "role", "save", "select", "shutdown", "slaveof", "slowlog", "swapdb", "sync", "time",
  "trimslots", "unwatch", "wait", "waitaof", "watch",
] as const;

type ShardOnlyName = (typeof SHARD_ONLY)[number];
type ShardOnlyMethod = ShardOnlyName | `${ShardOnlyName}Buffer`;

/** A method a sharded client cannot run: its parameter is the message a compiler shows. */
export type ShardOnly = (use_client_shard_name_instead: "no key to route by, or it changes a shared connection: call it on client.shard(name)") => never;

/** RedisCommander's methods as a sharded client has them. */
export type ShardedCommander<Omitted extends string> = Omit<RedisCommander, Omitted | ShardOnlyMethod> & {
  readonly [K in Exclude<ShardOnlyMethod & keyof RedisCommander, Omitted>]: ShardOnly;
};

/** ChainableCommander's methods as a sharded pipeline has them. */
export type ShardedChainable<Omitted extends string> = Omit<ChainableCommander, Omitted | ShardOnlyMethod> & {
  readonly [K in Exclude<ShardOnlyMethod & keyof ChainableCommander, Omitted>]: ShardOnly;
};
