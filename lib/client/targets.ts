/** Where the client's connections and transactions go: withConnection() targets, and a MULTI block's shard. */
import type { RedisKey } from "ioredis";
import { CrossShardError, InvalidArgumentError, KeylessCommandError, UnknownShardError } from "../errors.js";
import type { Executor } from "../exec/Executor.js";
import type { TransactionTarget } from "../pipeline/Transaction.js";
import type { ShardisCommand } from "../commands/command.js";
import type { Args } from "../routing/plan.js";
import { keyIndexes } from "../routing/commandSpec.js";
import { ClusterSlots } from "../sharding/strategy.js";
import { MigratingBlock } from "./migratingBlock.js";
import { prefixKey } from "../commands/keyPrefix.js";

export type ConnectionTarget = string | Buffer | { shard: string } | { key: RedisKey };

/** The shard a target names: a string is a shard name if one has it, else a key. */
export function connectionShard(target: ConnectionTarget, executor: Executor): number {
  if (typeof target === "object" && !Buffer.isBuffer(target) && target !== null) {
    if ("shard" in target) {
      const index = executor.shardIndex(target.shard);
      if (index === -1) throw new UnknownShardError(String(target.shard), executor.fleet.liveNames());
      return index;
    }
    if ("key" in target && (typeof target.key === "string" || Buffer.isBuffer(target.key))) return keyShard(target.key, executor);
  }
  if (typeof target === "string") {
    const index = executor.shardIndex(target);
    return index !== -1 ? index : keyShard(target, executor);
  }
  if (Buffer.isBuffer(target)) return keyShard(target, executor);
  throw new InvalidArgumentError("withConnection(target) takes a shard name, a key, { shard } or { key }");
}

/** The shard of a key as the caller writes it (the client's keyPrefix put on). */
export function keyShardIndex(key: string | Buffer, executor: Executor): number {
  return executor.strategy.shardIndexOf(prefixKey(key, executor.options.keyPrefix));
}

/** A key's shard for a dedicated connection: refused (MigrationRefusedError) while a migration moves it. */
function keyShard(key: string | Buffer, executor: Executor): number {
  key = prefixKey(key, executor.options.keyPrefix);
  executor.moves.refuseMoving("withConnection", [key], "a dedicated connection holds one owner while the key moves between two");
  return executor.strategy.shardIndexOf(key);
}

/**
 * client.multi(): every keyed command of the block in one group (a shard; a
 * slot over a cluster, which runs a transaction on one slot), found by
 * routing; the block runs on that shard's master.
 */
export function transactionTarget(executor: Executor, checkOpen: () => void): TransactionTarget {
  const fleet = executor.fleet;
  // Over a cluster a block whose slot moved runs again on its new owner once the map is re-read, or, while the slot
  // migrates, on the importing node (ASK).
  const migration = executor.options.cluster
    ? new MigratingBlock((reported) => fleet.clusterNode("ask", reported), () => fleet.holder.refresh("MOVED in a transaction"))
    : undefined;
  // The block's keys: checked again at exec, which may come in a later phase than the queueing did.
  const keys: Array<string | Buffer> = [];
  const refuseMoving = (blockKeys: ReadonlyArray<string | Buffer>) =>
    executor.moves.refuseMoving("multi", blockKeys, "a transaction runs on one owner while its key moves between two");
  return {
    checkOpen,
    shardOf: (spec, cmd) => {
      const args = cmd.args as Args;
      try {
        const route = executor.router.route(spec, args);
        if (typeof route !== "number") throw new CrossShardError(spec.name, executor.router.namesOf(spec, args), "a transaction runs on one shard");
      } catch (error) {
        if (error instanceof KeylessCommandError) return undefined;
        throw error;
      }
      const own = keyIndexes(spec, args).map((i) => args[i]!);
      refuseMoving(own);
      keys.push(...own);
      const key = args[keyIndexes(spec, args)[0] ?? spec.channelIndex];
      return key === undefined ? undefined : executor.strategy.groupOf(key);
    },
    node: (groups) => {
      refuseMoving(keys);
      const [group] = groups;
      if (group === undefined) {
        // Only keyless commands: the keyless shard's block (the `keyless` option, or the only shard).
        const keyless = executor.router.keylessShard;
        if (keyless < 0) throw new KeylessCommandError("multi");
        const master = () => executor.masterWhenPlaced(keyless);
        return migration ? migration.node(master) : master();
      }
      const shard = (group: number) => (executor.strategy instanceof ClusterSlots ? executor.strategy.owners[group]! : group);
      if (groups.size > 1) {
        const names = [...new Set([...groups].map((g) => executor.shardName(shard(g))))];
        throw new CrossShardError("multi", names, executor.options.cluster ? "a cluster runs a transaction on one slot; use one hash tag" : "a transaction runs on one shard; use hash tags");
      }
      const master = () => executor.masterWhenPlaced(shard(group));
      return migration ? migration.node(master) : master();
    },
    timeoutMs: executor.defaults.timeoutMs,
    keyPrefix: executor.options.keyPrefix,
    tracing: executor.tracing,
    multi: executor.multiGuard,
    relocated: migration && ((queued: readonly ShardisCommand[], replies: ReadonlyArray<Error | undefined>) => migration.relocated(queued, replies)),
  };
}
