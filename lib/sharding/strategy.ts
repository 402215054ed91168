import { keySlot } from "./keySlot.js";
import { slotOwnerTable, type SlotRange } from "./slotMap.js";
import { buildContinuum, bucketTable, hashTagged, md5Hash, pointFor, BUCKET_SHIFT, SEARCH } from "./ketama.js";

/** Maps a key to the index of the shard that owns it. Pure, no I/O. */
export interface ShardingStrategy {
  readonly kind: "slots" | "ketama";
  shardIndexOf(key: string | Buffer): number;
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
}
