/**
 * What one cache namespace (client.cache()) counts: each request by what
 * it found, each loader call by how it ended and how long it took, waits on
 * another process's lock, early refreshes, corrupt entries. Labels are the
 * namespace and these outcomes, never keys.
 */
import { Histogram } from "./histogram.js";

export const CACHE_RESULTS = ["hit", "miss", "stale", "negative"] as const;
export type CacheResult = (typeof CACHE_RESULTS)[number];
export const LOAD_OUTCOMES = ["ok", "error", "timeout"] as const;
export type LoadOutcome = (typeof LOAD_OUTCOMES)[number];

export class CacheMeter {
  readonly requests: Record<CacheResult, number> = { hit: 0, miss: 0, stale: 0, negative: 0 };
  readonly loads: Record<LoadOutcome, number> = { ok: 0, error: 0, timeout: 0 };
  /** Seconds per loader call that finished (ok or error). */
  readonly loadDuration: Histogram;
  /** Times a caller found another caller's rebuild lock and waited for its value. */
  lockWaits = 0;
  /** Refreshes XFetch started before expiry (that took the lock). */
  earlyRefreshes = 0;
  /** Stored values that could not be read (not a cache record, or the payload did not decode): treated as misses. */
  corruptEntries = 0;
  /** Loaded values not written because the lock was lost meanwhile (fencing). */
  refusedWrites = 0;

  constructor(
    readonly namespace: string,
    bounds: readonly number[],
  ) {
    this.loadDuration = new Histogram(bounds);
  }
}
