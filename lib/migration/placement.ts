/**
 * A placement: one fleet's sharding strategy, answering with the indexes of
 * the client's shards (the union of both fleets during a migration), and a
 * router over it. A migration holds two; a key moves when they disagree.
 */
import type { ResolvedPlacement } from "../config/migration.js";
import { colocateHint, createStrategy, type ShardingSpec } from "../sharding/create.js";
import { SlotStrategy, type ShardingStrategy } from "../sharding/strategy.js";
import { SLOT_COUNT } from "../sharding/keySlot.js";
import type { SlotRange } from "../sharding/slotMap.js";
import { Router } from "../routing/plan.js";

/** A fleet's strategy whose shard numbers are mapped to the union's indexes. */
class Remapped implements ShardingStrategy {
  readonly kind: ShardingStrategy["kind"];

  constructor(
    private readonly inner: ShardingStrategy,
    private readonly indexes: Uint16Array,
  ) {
    this.kind = inner.kind;
  }

  shardIndexOf(key: string | Buffer): number {
    return this.indexes[this.inner.shardIndexOf(key)]!;
  }

  groupOf(key: string | Buffer): number {
    return this.shardIndexOf(key);
  }
}

export class Placement {
  readonly strategy: ShardingStrategy;
  readonly router: Router;
  readonly sharding: ShardingSpec;
  /** The union indexes of its shards, in its order. */
  readonly shards: readonly number[];
  /** Every union shard's name, by index. */
  readonly names: readonly string[];

  /** `keyless`: the option's shard name; without it, a fleet of one shard sends keyless commands to it, as a client of that fleet alone does. */
  constructor(spec: ResolvedPlacement, union: ReadonlyArray<{ readonly name: string; readonly weight: number }>, keyless?: string) {
    this.sharding = spec.sharding;
    this.shards = Object.freeze([...spec.shards]);
    this.names = Object.freeze(union.map((s) => s.name));
    this.strategy = placed(spec, union);
    const only = spec.shards.length === 1 ? this.names[spec.shards[0]!] : undefined;
    this.router = new Router(this.strategy, this.names, colocateHint(spec.sharding), keyless ?? only);
  }

  /** Whether the union's shard `index` is one of this placement's. */
  has(index: number): boolean {
    return this.shards.includes(index);
  }
}

function placed(spec: ResolvedPlacement, union: ReadonlyArray<{ readonly name: string; readonly weight: number }>): ShardingStrategy {
  const own = spec.shards.map((i) => union[i]!);
  const identity = spec.shards.every((index, i) => index === i);
  const sharding = spec.sharding;
  if (sharding.strategy === "slots") {
    // Ranges laid out by union index: the owner table holds union indexes directly.
    const byUnion = union.map((): SlotRange[] => []);
    spec.shards.forEach((index, i) => byUnion[index]!.push(...sharding.ranges[i]!));
    return new SlotStrategy(byUnion);
  }
  const strategy = createStrategy(spec.sharding, own);
  return identity ? strategy : new Remapped(strategy, Uint16Array.from(spec.shards));
}

/** The fraction of keys whose owner differs between two placements: exact for two slot maps, sampled otherwise. */
export function movingShare(from: Placement, to: Placement): number {
  if (from.strategy instanceof SlotStrategy && to.strategy instanceof SlotStrategy) {
    let moved = 0;
    for (let slot = 0; slot < SLOT_COUNT; slot++) if (from.strategy.owners[slot] !== to.strategy.owners[slot]) moved++;
    return moved / SLOT_COUNT;
  }
  const samples = 20_000;
  let moved = 0;
  for (let i = 0; i < samples; i++) {
    const key = `shardis:sample:${i}`;
    if (from.strategy.shardIndexOf(key) !== to.strategy.shardIndexOf(key)) moved++;
  }
  return moved / samples;
}
