import type { ResolvedOptions, ResolvedSharding } from "../config/resolve.js";
import { KetamaStrategy, SlotStrategy, type ShardingStrategy } from "./strategy.js";

export function createStrategy(options: ResolvedOptions): ShardingStrategy {
  const sharding = options.sharding;
  return sharding.strategy === "slots"
    ? new SlotStrategy(sharding.ranges)
    : new KetamaStrategy(options.shards, sharding.hashTag);
}

/** How to put several keys on one shard under this strategy, for CrossShardError. */
export function colocateHint(sharding: ResolvedSharding): string {
  if (sharding.strategy === "slots") return "give them one hash tag, e.g. {user:42}:profile and {user:42}:cart";
  if (sharding.hashTag === false) return "set sharding.hashTag (e.g. \"{}\") and give the keys one hash tag";
  return `give them one hash tag, e.g. ${sharding.hashTag[0]}user:42${sharding.hashTag[1]}:profile`;
}
