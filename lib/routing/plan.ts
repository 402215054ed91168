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
    /** The `keyless` option's shard name. */
    keyless?: string,
  ) {
    this.keylessShard = keyless !== undefined ? shardNames.indexOf(keyless) : shardNames.length === 1 ? 0 : -1;
  }

  /** Where keyless commands go (the `keyless` option, or the only shard); -1: refused with KeylessCommandError. */
  readonly keylessShard: number;

  /**
   * The shard the command goes to, or its split plan. Throws for commands it
   * cannot route (keyless ones, unless the keyless shard or `keyless`, a
   * script's own shard, takes them).
   */
  route(spec: CommandSpec, args: Args, keyless = this.keylessShard): Route {
    const single = spec.singleKeyIndex;
    if (single >= 0 && single < args.length) return this.strategy.shardIndexOf(args[single]!);
    // One shard: wherever its keys are, an unknown command (a module's) can only go there, and the server judges it.
    if (!spec.known) {
      if (this.shardNames.length === 1) return 0;
      throw new UnknownCommandError(spec.name);
    }
    const indexes = keyIndexes(spec, args);
    if (indexes.length === 0) {
      if (spec.channelIndex >= 0 && spec.channelIndex < args.length) return this.strategy.shardIndexOf(args[spec.channelIndex]!);
      // The keyless shard answers a command missing its key as the server does (ERR wrong number of arguments; EXECABORT in a MULTI).
      if (keyless >= 0) return keyless;
      if (single >= 0) throw new InvalidArgumentError(`${spec.name.toUpperCase()} needs a key as argument ${single + 1}`);
      throw new KeylessCommandError(spec.name);
    }
    if (spec.split && args.length % spec.split.step !== 0) {
      throw new InvalidArgumentError(`${spec.name.toUpperCase()} needs arguments in groups of ${spec.split.step}`);
    }
    // Keys travel together in their group: the shard, or over a cluster, the slot.
    const groups = indexes.map((i) => this.strategy.groupOf(args[i]!));
    const first = groups[0]!;
    if (groups.every((g) => g === first)) return this.strategy.shardIndexOf(args[indexes[0]!]!);
    if (!spec.split) throw this.crossShard(spec, args, indexes, groups);
    return this.split(spec, args, groups);
  }

  /** The whole plan, broadcasts included (to `shards`, those that serve): what client.explain() shows. */
  plan(spec: CommandSpec, args: Args, shards: readonly number[]): Plan {
    const combine = spec.broadcast ? broadcastRule(spec.name, args) : undefined;
    if (combine) return { kind: "broadcast", shards: [...shards], combine };
    const route = this.route(spec, args);
    return typeof route === "number" ? { kind: "single", shard: route } : route;
  }

  /** Names of the distinct shards a command's keys live on, in key order. */
  namesOf(spec: CommandSpec, args: Args): string[] {
    return this.distinctNames(keyIndexes(spec, args).map((i) => this.strategy.shardIndexOf(args[i]!)));
  }

  private distinctNames(shards: readonly number[]): string[] {
    return [...new Set(shards)].map((s) => this.shardNames[s] ?? "(no shard)");
  }

  /** Keys that cannot travel together: on several shards, or (over a cluster) in several slots of one. */
  private crossShard(spec: CommandSpec, args: Args, indexes: readonly number[], groups: readonly number[]): CrossShardError {
    const names = this.distinctNames(indexes.map((i) => this.strategy.shardIndexOf(args[i]!)));
    if (names.length > 1 || this.strategy.kind !== "cluster") return new CrossShardError(spec.name, names, this.colocateHint);
    const slots = [...new Set(groups)].slice(0, 5).join(", ");
    return new CrossShardError(spec.name, names, `its keys are in slots ${slots}, and a cluster runs one command on one slot: ${this.colocateHint}`);
  }

  /** One part per group (shard, or slot over a cluster), keys (and their values) in caller order within each part. */
  private split(spec: CommandSpec, args: Args, keyGroups: readonly number[]): SplitPlan {
    const rule = spec.split!;
    const byGroup = new Map<number, SplitPart>();
    keyGroups.forEach((group, k) => {
      let part = byGroup.get(group);
      if (!part) byGroup.set(group, (part = { shard: this.strategy.shardIndexOf(args[k * rule.step]!), args: [], positions: [] }));
      for (let j = 0; j < rule.step; j++) part.args.push(args[k * rule.step + j]!);
      part.positions.push(k);
    });
    return { kind: "split", parts: [...byGroup.values()], keyCount: keyGroups.length, reduce: rule.reduce };
  }
}
