import { KetamaStrategy, SlotStrategy, type ShardingStrategy } from "./strategy.js";
import type { SlotRange } from "./slotMap.js";

/** How keys are placed, as the options resolve it. */
export type ShardingSpec =
  | { readonly strategy: "slots"; readonly ranges: ReadonlyArray<readonly SlotRange[]> }
  | { readonly strategy: "ketama"; readonly hashTag: string | false };

export function createStrategy(sharding: ShardingSpec, shards: ReadonlyArray<{ name: string; weight: number }>): ShardingStrategy {
  return sharding.strategy === "slots" ? new SlotStrategy(sharding.ranges) : new KetamaStrategy(shards, sharding.hashTag);
}

/** How to put several keys on one shard under this strategy, for CrossShardError. */
export function colocateHint(sharding: ShardingSpec): string {
  if (sharding.strategy === "slots") return "give them one hash tag, e.g. {user:42}:profile and {user:42}:cart";
  if (sharding.hashTag === false) return "set sharding.hashTag (e.g. \"{}\") and give the keys one hash tag";
  return `give them one hash tag, e.g. ${sharding.hashTag[0]}user:42${sharding.hashTag[1]}:profile`;
}
