/**
 * Options of client.cache(): types, and validation that reports every
 * problem at once in a ConfigError (before the cache exists) and returns a
 * frozen, complete copy.
 */
import { ConfigError } from "../errors.js";
import { describe } from "./address.js";
import { isPlainObject, unknownKeys } from "./checks.js";
import { DEFAULTS } from "./defaults.js";

/** How values become bytes in Redis and back. Buffers always pass through untouched. */
export interface CacheSerializer<T = unknown> {
  encode(value: T): string | Buffer;
  decode(data: Buffer): T;
}

export interface CacheOptions<T = unknown> {
  /** Key prefix: keys are stored as `${namespace}:${key}` (their {hash tags} kept). 1-128 characters, no whitespace. */
  namespace: string;
  /** How long a value is fresh, in ms (required, > 0). */
  ttlMs: number;
  /** Spread of each write's TTL: ttlMs * (1 ± up to jitter), 0..0.5. @default 0.1 */
  jitter?: number;
  /** After ttlMs, serve the old value this long while one caller in the fleet refreshes it (stale-while-revalidate), in ms. @default 0 */
  staleMs?: number;
  /** XFetch early refresh (refresh before expiry with a probability from the last load's duration); false turns it off. @default { beta: 1 } */
  earlyRefresh?: { beta: number } | false;
  /** Rebuild lock lifetime in ms; extended while the loader runs, so it bounds how long a dead holder blocks others. @default 1000 */
  lockTtlMs?: number;
  /** How long a caller waits for a value being loaded before CacheTimeoutError (or the stale value, if any), in ms. @default 2000 */
  waitTimeoutMs?: number;
  /**
   * How long a loader may run, in ms: past it the load is abandoned (its
   * signal aborted, its lock given up so another process can load, a late
   * value not written) and its callers get CacheLoadTimeoutError. @default 10000
   */
  loadTimeoutMs?: number;
  /** Cache "not found" (the loader returned undefined) this long, in ms; 0 never caches it. @default 0 */
  negativeTtlMs?: number;
  /** JSON by default; Buffers pass through untouched either way. */
  serializer?: CacheSerializer<T>;
}

export interface ResolvedCacheOptions<T = unknown> {
  readonly namespace: string;
  readonly ttlMs: number;
  readonly jitter: number;
  readonly staleMs: number;
  /** 0: early refresh off. */
  readonly beta: number;
  readonly lockTtlMs: number;
  readonly waitTimeoutMs: number;
  readonly loadTimeoutMs: number;
  readonly negativeTtlMs: number;
  readonly serializer: CacheSerializer<T> | undefined;
}

const KNOWN = ["namespace", "ttlMs", "jitter", "staleMs", "earlyRefresh", "lockTtlMs", "waitTimeoutMs", "loadTimeoutMs", "negativeTtlMs", "serializer"];
const MAX_MS = 2_147_483_647;

export function resolveCacheOptions<T>(input: unknown): ResolvedCacheOptions<T> {
  const problems: string[] = [];
  if (!isPlainObject(input)) throw new ConfigError([`cache options must be an object { namespace, ttlMs, ... } (got ${describe(input)})`]);
  unknownKeys(input, KNOWN, "cache option", problems);
  const ms = (name: string, min: number, fallback?: number): number => {
    const value = input[name] ?? fallback;
    if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= MAX_MS) return value;
    problems.push(`cache.${name} must be an integer number of ms from ${min} to ${MAX_MS} (got ${describe(input[name])})`);
    return min;
  };
  const namespace = input.namespace;
  if (typeof namespace !== "string" || !/^\S{1,128}$/.test(namespace)) {
    problems.push(`cache.namespace must be 1-128 characters without whitespace (got ${describe(namespace)})`);
  }
  const ttlMs = ms("ttlMs", 1);
  const jitter = input.jitter ?? DEFAULTS.cache.jitter;
  if (typeof jitter !== "number" || !(jitter >= 0 && jitter <= 0.5)) problems.push(`cache.jitter must be a number from 0 to 0.5 (got ${describe(input.jitter)})`);
  let beta: number = DEFAULTS.cache.earlyRefreshBeta;
  const early = input.earlyRefresh;
  if (early === false) beta = 0;
  else if (early !== undefined) {
    if (!isPlainObject(early) || typeof early.beta !== "number" || !(early.beta > 0 && early.beta <= 100)) {
      problems.push(`cache.earlyRefresh must be false or { beta } with beta a number above 0, at most 100 (got ${describe(early)})`);
    } else {
      unknownKeys(early, ["beta"], "field in cache.earlyRefresh", problems);
      beta = early.beta;
    }
  }
  const serializer = input.serializer as CacheSerializer<T> | undefined;
  if (serializer !== undefined && (!isPlainObject(serializer) || typeof serializer.encode !== "function" || typeof serializer.decode !== "function")) {
    problems.push(`cache.serializer must be { encode(value), decode(buffer) } (got ${describe(serializer)})`);
  }
  const resolved: ResolvedCacheOptions<T> = {
    namespace: namespace as string,
    ttlMs,
    jitter: jitter as number,
    staleMs: ms("staleMs", 0, DEFAULTS.cache.staleMs),
    beta,
    lockTtlMs: ms("lockTtlMs", 10, DEFAULTS.cache.lockTtlMs),
    waitTimeoutMs: ms("waitTimeoutMs", 1, DEFAULTS.cache.waitTimeoutMs),
    loadTimeoutMs: ms("loadTimeoutMs", 1, DEFAULTS.cache.loadTimeoutMs),
    negativeTtlMs: ms("negativeTtlMs", 0, DEFAULTS.cache.negativeTtlMs),
    serializer,
  };
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(resolved);
}
