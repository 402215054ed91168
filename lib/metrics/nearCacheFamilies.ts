/** The near cache's families: per shard (its invalidation domain), never per key. */
import { FLUSH_REASONS } from "../nearcache/NearCache.js";
import type { Family } from "./families.js";

export const NEAR_CACHE_FAMILIES: readonly Family[] = [
  {
    name: "near_cache_requests_total",
    help: "Reads the near cache was asked for: hit (answered from memory, no command sent) or miss (sent to Redis).",
    type: "counter",
    samples: (f) => (f.near ?? []).flatMap((s) => [
      { labels: { shard: s.shard, result: "hit" }, value: s.hits },
      { labels: { shard: s.shard, result: "miss" }, value: s.misses },
    ]),
  },
  {
    name: "near_cache_invalidations_total",
    help: "Cached keys dropped because Redis reported them changed, or this client wrote them.",
    type: "counter",
    samples: (f) => (f.near ?? []).map((s) => ({ labels: { shard: s.shard }, value: s.invalidations })),
  },
  {
    name: "near_cache_flushes_total",
    help: "Times a shard's whole near cache was dropped, by reason: connection (tracking connection lost), failover, topology (cluster slots moved), server (FLUSHALL/FLUSHDB), tracking (refused), write (a command touching unknown keys).",
    type: "counter",
    samples: (f) => (f.near ?? []).flatMap((s) => FLUSH_REASONS.map((reason) => ({ labels: { shard: s.shard, reason }, value: s.flushes[reason] }))),
  },
  {
    name: "near_cache_entries",
    help: "Replies held in the near cache.",
    type: "gauge",
    samples: (f) => (f.near ?? []).map((s) => ({ labels: { shard: s.shard }, value: s.entries })),
  },
  {
    name: "near_cache_bytes",
    help: "Bytes of replies held in the near cache (reply length plus a fixed overhead per entry).",
    type: "gauge",
    samples: (f) => (f.near ?? []).map((s) => ({ labels: { shard: s.shard }, value: s.bytes })),
  },
];
