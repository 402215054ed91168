/**
 * What the cache needs from the client: a few commands routed by key, the
 * lock scripts run on the key's node. Implemented by the client over its
 * executor (so the key's node's breaker fails them fast while it is down).
 */
import type { Carried } from "../commands/command.js";
import type { Script } from "../commands/script.js";

export type CacheKey = string | Buffer;

export interface CacheStore {
  get(key: CacheKey): Promise<Buffer | null>;
  /**
   * GET that settles with `carried`, the reply put on it as `raw`, or fails
   * with a CarriedFailure naming it: one handler serves every read (the hit
   * path allocates no closure per read).
   */
  read<C extends Carried>(key: CacheKey, carried: C): Promise<C>;
  /** Split per shard by the client: one MGET per shard. */
  mget(keys: readonly CacheKey[]): Promise<Array<Buffer | null>>;
  set(key: CacheKey, value: Buffer, ttlMs: number): Promise<void>;
  del(key: CacheKey): Promise<number>;
  /** A lock script on the key's node (EVALSHA, EVAL when the node lacks it). */
  run(script: Script, key: CacheKey, args: ReadonlyArray<string | number | Buffer>): Promise<unknown>;
}

export interface CacheEvents {
  /**
   * A load failed, the store failed, or a background refresh failed; what the
   * callers got instead: the stale value, the loader's own value (store
   * down), or the error.
   */
  error(namespace: string, key: string, error: Error, served: "stale" | "loader" | "error" | "none"): void;
}
