/** Validation of `sharding`: the strategy and its fields (an explicit slot map checked against the shards). */
import { defaultSlotRanges, checkSlotMap } from "../sharding/slotMap.js";
import type { ShardingSpec } from "../sharding/create.js";
import { DEFAULTS } from "./defaults.js";
import { describe } from "./address.js";
import { unknownKeys } from "./checks.js";
import type { ResolvedShard } from "./shards.js";

export type ResolvedSharding = ShardingSpec;

export function resolveSharding(
  value: unknown,
  shards: readonly Pick<ResolvedShard, "name" | "weight">[],
  problems: string[],
): ResolvedSharding | undefined {
  const sharding = (value ?? {}) as Record<string, unknown>;
  if (typeof sharding !== "object" || Array.isArray(sharding)) {
    problems.push(`sharding must be an object (got ${describe(value)})`);
    return undefined;
  }
  const strategy = sharding.strategy ?? DEFAULTS.strategy;
  if (strategy === "slots") {
    unknownKeys(sharding, ["strategy", "slots"], "field in sharding (strategy slots)", problems);
    if (sharding.slots === undefined) {
      return { strategy, ranges: defaultSlotRanges(shards.map((s) => s.weight)).map((r) => [r]) };
    }
    const checked = checkSlotMap(sharding.slots, shards.map((s) => s.name));
    problems.push(...checked.problems);
    return checked.ranges ? { strategy, ranges: checked.ranges } : undefined;
  }
  if (strategy === "ketama") {
    unknownKeys(sharding, ["strategy", "hashTag"], "field in sharding (strategy ketama)", problems);
    const hashTag = sharding.hashTag ?? DEFAULTS.ketamaHashTag;
    if (hashTag !== false && (typeof hashTag !== "string" || !/^[\x21-\x7e]{2}$/.test(hashTag))) {
      problems.push(`sharding.hashTag must be false or two printable ASCII characters such as "{}" (got ${describe(hashTag)})`);
      return undefined;
    }
    return { strategy, hashTag: hashTag as string | false };
  }
  problems.push(`sharding.strategy must be "slots" or "ketama" (got ${describe(strategy)})`);
  return undefined;
}

