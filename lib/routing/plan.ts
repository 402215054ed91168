/**
 * Routing as a pure function of (command, arguments, strategy): which shard a
 * command goes to, or how it splits into one command per shard. No I/O, so
 * `explain`-style questions ("where would this go?") cost nothing.
 */
import { CrossShardError, InvalidArgumentError, KeylessCommandError, UnknownCommandError } from "../errors.js";
import type { ShardingStrategy } from "../sharding/strategy.js";
import { keyIndexes, type CommandSpec, type Reduction } from "./commandSpec.js";

export type Args = ReadonlyArray<string | Buffer>;

/** route() result for a command whose keys span shards and that may be split. */
export const SPLIT = -1;

export interface SplitPart {
  readonly shard: number;
  readonly args: Array<string | Buffer>;
  /** Caller-order position of each key in this part. */
  readonly positions: number[];
}

export interface SplitPlan {
  readonly parts: SplitPart[];
  readonly keyCount: number;
  readonly reduce: Reduction;
}

export class Router {
  constructor(
    private readonly strategy: ShardingStrategy,
    private readonly shardNames: readonly string[],
    /** How to co-locate keys under the configured strategy, for CrossShardError. */
    private readonly colocateHint: string,
  ) {}

  /** The shard index the command goes to, or SPLIT. Throws for commands it cannot route. */
  route(spec: CommandSpec, args: Args): number {
    const single = spec.singleKeyIndex;
    if (single >= 0 && single < args.length) return this.strategy.shardIndexOf(args[single]!);
    if (!spec.known) throw new UnknownCommandError(spec.name);
    const indexes = keyIndexes(spec, args);
    if (indexes.length === 0) {
      if (spec.channelIndex >= 0 && spec.channelIndex < args.length) return this.strategy.shardIndexOf(args[spec.channelIndex]!);
      if (single >= 0) throw new InvalidArgumentError(`${spec.name.toUpperCase()} needs a key as argument ${single + 1}`);
      throw new KeylessCommandError(spec.name);
    }
    const first = this.strategy.shardIndexOf(args[indexes[0]!]!);
    for (let i = 1; i < indexes.length; i++) {
      if (this.strategy.shardIndexOf(args[indexes[i]!]!) === first) continue;
      if (spec.split) return SPLIT;
      throw new CrossShardError(spec.name, this.namesOf(spec, args), this.colocateHint);
    }
    return first;
  }

  /** Names of the distinct shards a command's keys live on, in key order. */
  namesOf(spec: CommandSpec, args: Args): string[] {
    return this.shardsOf(spec, args).map((s) => this.shardNames[s]!);
  }

  /** The distinct shards a command's keys live on, in key order. */
  shardsOf(spec: CommandSpec, args: Args): number[] {
    return [...new Set(keyIndexes(spec, args).map((i) => this.strategy.shardIndexOf(args[i]!)))];
  }

  /** One part per shard, keys (and their values) in caller order within each part. */
  split(spec: CommandSpec, args: Args): SplitPlan {
    const rule = spec.split!;
    if (args.length % rule.step !== 0) {
      throw new InvalidArgumentError(`${spec.name.toUpperCase()} needs arguments in groups of ${rule.step}`);
    }
    const byShard = new Map<number, SplitPart>();
    const keyCount = args.length / rule.step;
    for (let k = 0; k < keyCount; k++) {
      const shard = this.strategy.shardIndexOf(args[k * rule.step]!);
      let part = byShard.get(shard);
      if (!part) byShard.set(shard, (part = { shard, args: [], positions: [] }));
      for (let j = 0; j < rule.step; j++) part.args.push(args[k * rule.step + j]!);
      part.positions.push(k);
    }
    return { parts: [...byShard.values()], keyCount, reduce: rule.reduce };
  }
}
