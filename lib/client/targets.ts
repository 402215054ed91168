/** Where withConnection() borrows a connection: a shard name, a key, or either made explicit. */
import type { RedisKey } from "ioredis";
import { InvalidArgumentError, UnknownShardError } from "../errors.js";
import type { Executor } from "../exec/Executor.js";

export type ConnectionTarget = string | Buffer | { shard: string } | { key: RedisKey };

/** The shard a target names: a string is a shard name if one has it, else a key. */
export function connectionShard(target: ConnectionTarget, executor: Executor): number {
  if (typeof target === "object" && !Buffer.isBuffer(target) && target !== null) {
    if ("shard" in target) {
      const index = executor.shardIndex(target.shard);
      if (index === -1) throw new UnknownShardError(String(target.shard), executor.shardNames);
      return index;
    }
    if ("key" in target && (typeof target.key === "string" || Buffer.isBuffer(target.key))) return executor.strategy.shardIndexOf(target.key);
  }
  if (typeof target === "string") {
    const index = executor.shardIndex(target);
    return index !== -1 ? index : executor.strategy.shardIndexOf(target);
  }
  if (Buffer.isBuffer(target)) return executor.strategy.shardIndexOf(target);
  throw new InvalidArgumentError("withConnection(target) takes a shard name, a key, { shard } or { key }");
}
