import { keySlot } from "./keySlot.js";
import { slotOwnerTable, type SlotRange } from "./slotMap.js";
import { buildContinuum, bucketTable, hashTagged, md5Hash, pointFor, BUCKET_SHIFT, SEARCH } from "./ketama.js";

/** Maps a key to the index of the shard that owns it. Pure, no I/O. */
export interface ShardingStrategy {
  readonly kind: "slots" | "ketama" | "cluster";
  shardIndexOf(key: string | Buffer): number;
  /**
   * What keys must share to travel in one command: their shard, or, over a
   * Redis Cluster, their slot (a cluster node refuses keys of several slots
   * in one command, even slots it serves: CROSSSLOT).
   */
  groupOf(key: string | Buffer): number;
}

export class SlotStrategy implements ShardingStrategy {
  readonly kind = "slots";
  /** slot -> shard index */
  readonly owners: Uint16Array;

  constructor(rangesByShard: ReadonlyArray<readonly SlotRange[]>) {
    this.owners = slotOwnerTable(rangesByShard);
  }

  shardIndexOf(key: string | Buffer): number {
    return this.owners[keySlot(key)]!;
  }

  groupOf(key: string | Buffer): number {
    return this.shardIndexOf(key);
  }
}

/** A Redis Cluster's slot map (a layout's, replaced with it): keys travel together only within one slot. */
export class ClusterSlots implements ShardingStrategy {
  readonly kind = "cluster";

  /** owners: slot -> shard index (UNASSIGNED, 0xffff, where no shard serves it). Not copied: a layout's table is never written. */
  constructor(readonly owners: Uint16Array) {}

  shardIndexOf(key: string | Buffer): number {
    return this.owners[keySlot(key)]!;
  }

  groupOf(key: string | Buffer): number {
    return keySlot(key);
  }
}

export class KetamaStrategy implements ShardingStrategy {
  readonly kind = "ketama";
  private readonly values: Uint32Array;
  private readonly owners: Uint16Array;
  private readonly buckets: Uint16Array;

  constructor(
    shards: ReadonlyArray<{ name: string; weight: number }>,
    private readonly hashTag: string | false,
  ) {
    ({ values: this.values, owners: this.owners } = buildContinuum(shards));
    this.buckets = bucketTable(this.values, this.owners);
  }

  shardIndexOf(key: string | Buffer): number {
    const hash = md5Hash(hashTagged(key, this.hashTag));
    const owner = this.buckets[hash >>> BUCKET_SHIFT]!;
    return owner !== SEARCH ? owner : this.owners[pointFor(this.values, hash)]!;
  }

  groupOf(key: string | Buffer): number {
    return this.shardIndexOf(key);
  }
}
