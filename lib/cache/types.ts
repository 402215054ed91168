/** The cache layer's public call types, and what a resolution yields inside it. */
import type { CacheResult } from "../metrics/cacheMeter.js";
import type { CacheRecord } from "./record.js";
import type { CacheKey } from "./store.js";

export interface LoaderContext<T> {
  /** The key as given to getOrSet. */
  readonly key: string;
  /** The value being refreshed (stale-while-revalidate, early refresh), if any. */
  readonly stale: T | undefined;
  /**
   * Aborted when the load is abandoned: the loader ran past loadTimeoutMs
   * (its lock given up, a value it returns later not written). Callers that
   * stop waiting earlier (waitTimeoutMs) do not abort it: its value is still
   * cached for the next ones.
   */
  readonly signal: AbortSignal;
}

/** Loads a value; undefined means "not found" (cached for negativeTtlMs, when set). */
export type Loader<T> = (context: LoaderContext<T>) => Promise<T | undefined> | T | undefined;

/** Loads many values at once: an array in the order of `missing`, or a Map from key to value. */
export type ManyLoader<K extends CacheKey, T> = (
  missing: K[],
  context: { readonly signal: AbortSignal },
) => Promise<ReadonlyArray<T | undefined> | ReadonlyMap<K, T | undefined>> | ReadonlyArray<T | undefined> | ReadonlyMap<K, T | undefined>;

export interface CacheSetOptions {
  /** This write's freshness instead of the cache's ttlMs, in ms (jitter still applies). */
  ttlMs?: number;
}

export interface CacheGetOptions {
  /** Also return a value past its ttlMs but within staleMs. @default false */
  allowStale?: boolean;
}

/** One caller's answer: the value and what it was (counted per caller). */
export interface Found<T> {
  readonly value: T | undefined;
  readonly result: CacheResult;
  /** How a miss was answered (for traces): loaded under the lock, waited for another caller's load, took over a lock given up, loaded directly. */
  readonly how?: "loaded" | "waited" | "took_over" | "direct";
  /** The record the value came from (reads only). */
  readonly record?: CacheRecord;
}
