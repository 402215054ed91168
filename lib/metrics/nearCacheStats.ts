/** client.nearCacheStats(): the near cache's figures, in total and per shard. */
import { FLUSH_REASONS, type DomainStats, type FlushReason } from "../nearcache/NearCache.js";

/** What the near cache counts, per shard and in total. */
interface NearCacheCounts {
  readonly entries: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
  /** Of the misses: reads that shared the same read already in flight (no command of their own). */
  readonly joined: number;
  /** Keys Redis (or a write through this client) reported changed while cached. */
  readonly invalidations: number;
}

export interface NearCacheShardStats extends NearCacheCounts {
  readonly shard: string;
  /** Whether the shard caches now (client tracking confirmed on its master connection). */
  readonly tracking: boolean;
  readonly flushes: Readonly<Record<FlushReason, number>>;
}

export interface NearCacheStats extends NearCacheCounts {
  /** Whole shards dropped: all reasons added up. */
  readonly flushes: number;
  readonly shards: readonly NearCacheShardStats[];
}

export function nearCacheStats(domains: ReadonlyArray<DomainStats & { entries: number; bytes: number; tracking: boolean }>, name: (index: number) => string): NearCacheStats {
  const shards = domains.map((d, i) => ({ shard: name(i), ...d }));
  const sum = (pick: (s: NearCacheShardStats) => number) => shards.reduce((total, s) => total + pick(s), 0);
  return {
    entries: sum((s) => s.entries),
    bytes: sum((s) => s.bytes),
    hits: sum((s) => s.hits),
    misses: sum((s) => s.misses),
    joined: sum((s) => s.joined),
    invalidations: sum((s) => s.invalidations),
    flushes: sum((s) => FLUSH_REASONS.reduce((n, reason) => n + s.flushes[reason], 0)),
    shards,
  };
}
