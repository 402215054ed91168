/**
 * Routing as a pure function of (command, arguments, strategy): the shard a
 * command goes to, or the plan that fans it out. No I/O, so "where would this
 * go?" costs nothing (client.explain). A command with one key, or keys on one
 * shard, routes to a shard index (no allocation on the hot path); keys on
 * several shards of a splittable command give a SplitPlan, computed once
 * from the keys' shards.
 */
import { CrossShardError, InvalidArgumentError, KeylessCommandError, UnknownCommandError } from "../errors.js";
import type { ShardingStrategy } from "../sharding/strategy.js";
import { broadcastRule, type Combine } from "./broadcast.js";
import { keyIndexes, type CommandSpec, type Reduction } from "./commandSpec.js";

export type Args = ReadonlyArray<string | Buffer>;

export interface SplitPart {
  readonly shard: number;
  readonly args: Array<string | Buffer>;
  /** Caller-order position of each key in this part. */
  readonly positions: number[];
}

/** One command per shard, built from the caller's keys; replies combined by `reduce`. */
export interface SplitPlan {
  readonly kind: "split";
  readonly parts: SplitPart[];
  readonly keyCount: number;
  readonly reduce: Reduction;
}

/** A keyless command sent to every shard; replies combined by `combine`. */
export interface BroadcastPlan {
  readonly kind: "broadcast";
  readonly shards: readonly number[];
  readonly combine: Combine;
}

/** Where a command goes: one shard (its index), or a fan-out. */
export type Route = number | SplitPlan;
export type Plan = { readonly kind: "single"; readonly shard: number } | SplitPlan | BroadcastPlan;

export class Router {
  constructor(
    private readonly strategy: ShardingStrategy,
    private readonly shardNames: readonly string[],
    /** How to co-locate keys under the configured strategy, for CrossShardError. */
    private readonly colocateHint: string,
  ) {}

  /** The shard the command goes to, or its split plan. Throws for commands it cannot route (keyless ones included). */
  route(spec: CommandSpec, args: Args): Route {
    const single = spec.singleKeyIndex;
    if (single >= 0 && single < args.length) return this.strategy.shardIndexOf(args[single]!);
    if (!spec.known) throw new UnknownCommandError(spec.name);
    const indexes = keyIndexes(spec, args);
    if (indexes.length === 0) {
      if (spec.channelIndex >= 0 && spec.channelIndex < args.length) return this.strategy.shardIndexOf(args[spec.channelIndex]!);
      if (single >= 0) throw new InvalidArgumentError(`${spec.name.toUpperCase()} needs a key as argument ${single + 1}`);
      throw new KeylessCommandError(spec.name);
    }
    if (spec.split && args.length % spec.split.step !== 0) {
      throw new InvalidArgumentError(`${spec.name.toUpperCase()} needs arguments in groups of ${spec.split.step}`);
    }
    const shards = indexes.map((i) => this.strategy.shardIndexOf(args[i]!));
    const first = shards[0]!;
    if (shards.every((s) => s === first)) return first;
    if (!spec.split) throw new CrossShardError(spec.name, this.distinctNames(shards), this.colocateHint);
    return this.split(spec, args, shards);
  }

  /** The whole plan, broadcasts included: what client.explain() shows. */
  plan(spec: CommandSpec, args: Args, shardCount: number): Plan {
    const combine = spec.broadcast ? broadcastRule(spec.name, args) : undefined;
    if (combine) return { kind: "broadcast", shards: Array.from({ length: shardCount }, (_, i) => i), combine };
    const route = this.route(spec, args);
    return typeof route === "number" ? { kind: "single", shard: route } : route;
  }

  /** Names of the distinct shards a command's keys live on, in key order. */
  namesOf(spec: CommandSpec, args: Args): string[] {
    return this.distinctNames(keyIndexes(spec, args).map((i) => this.strategy.shardIndexOf(args[i]!)));
  }

  private distinctNames(shards: readonly number[]): string[] {
    return [...new Set(shards)].map((s) => this.shardNames[s]!);
  }

  /** One part per shard, keys (and their values) in caller order within each part. */
  private split(spec: CommandSpec, args: Args, keyShards: readonly number[]): SplitPlan {
    const rule = spec.split!;
    const byShard = new Map<number, SplitPart>();
    keyShards.forEach((shard, k) => {
      let part = byShard.get(shard);
      if (!part) byShard.set(shard, (part = { shard, args: [], positions: [] }));
      for (let j = 0; j < rule.step; j++) part.args.push(args[k * rule.step + j]!);
      part.positions.push(k);
    });
    return { kind: "split", parts: [...byShard.values()], keyCount: keyShards.length, reduce: rule.reduce };
  }
}
