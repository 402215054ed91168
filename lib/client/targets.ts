/** Where the client's connections and transactions go: withConnection() targets, and a MULTI block's shard. */
import type { RedisKey } from "ioredis";
import { CrossShardError, InvalidArgumentError, KeylessCommandError, UnknownShardError } from "../errors.js";
import type { Executor } from "../exec/Executor.js";
import type { TransactionTarget } from "../pipeline/Transaction.js";
import type { Args } from "../routing/plan.js";

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

/** client.multi(): every keyed command of the block on one shard, found by routing; the block runs on its master. */
export function transactionTarget(executor: Executor, checkOpen: () => void): TransactionTarget {
  return {
    checkOpen,
    shardOf: (spec, cmd) => {
      try {
        const route = executor.router.route(spec, cmd.args as Args);
        if (typeof route !== "number") throw new CrossShardError(spec.name, executor.router.namesOf(spec, cmd.args as Args), "a transaction runs on one shard");
        return route;
      } catch (error) {
        if (error instanceof KeylessCommandError) return undefined;
        throw error;
      }
    },
    node: (shards) => {
      if (shards.size > 1) {
        throw new CrossShardError("multi", [...shards].map((s) => executor.shardName(s)), "a transaction runs on one shard; use hash tags");
      }
      const [shard] = shards;
      if (shard === undefined) throw new KeylessCommandError("multi");
      return executor.masterWhenPlaced(shard);
    },
    timeoutMs: executor.defaults.timeoutMs,
  };
}
