/** What the cache layer (client.cache()) raises at call time. */
import { ShardisError, type ShardisErrorCode } from "./base.js";

/** What the cache layer (client.cache()) raises at call time; options are checked by cache() itself (ConfigError). */
export abstract class CacheError extends ShardisError {
  /** The cache's namespace. */
  readonly namespace: string;

  constructor(code: ShardisErrorCode, namespace: string, message: string, cause?: unknown) {
    super(code, `cache "${namespace}": ${message}`, cause === undefined ? undefined : { cause });
    this.namespace = namespace;
  }
}

/** A key that is not a string or Buffer, or per-call options out of range. Nothing was sent. */
export class CacheArgumentError extends CacheError {
  constructor(namespace: string, message: string) {
    super("ERR_SHARDIS_CACHE_ARGUMENT", namespace, message);
  }
}

/** The value could not be encoded (JSON refuses it: a BigInt, a cycle) or the serializer threw. Nothing was written. */
export class CacheSerializationError extends CacheError {
  constructor(namespace: string, cause: unknown) {
    super("ERR_SHARDIS_CACHE_SERIALIZATION", namespace, `the value could not be encoded: ${(cause as Error)?.message ?? String(cause)}`, cause);
  }
}

/** No value within waitTimeoutMs: another caller's load did not finish in time, or this caller's own loader did not. */
export class CacheTimeoutError extends CacheError {
  readonly waitTimeoutMs: number;

  constructor(namespace: string, key: string, waitTimeoutMs: number, why: string) {
    super("ERR_SHARDIS_CACHE_TIMEOUT", namespace, `no value for ${JSON.stringify(key)} within ${waitTimeoutMs} ms: ${why}`);
    this.waitTimeoutMs = waitTimeoutMs;
  }
}

/**
 * The loader ran past loadTimeoutMs: the load was abandoned (its signal
 * aborted, its rebuild lock given up so another process can load, its value
 * never written if it comes at last).
 */
export class CacheLoadTimeoutError extends CacheError {
  readonly loadTimeoutMs: number;

  constructor(namespace: string, key: string, loadTimeoutMs: number) {
    super(
      "ERR_SHARDIS_CACHE_LOAD_TIMEOUT",
      namespace,
      `the loader of ${JSON.stringify(key)} ran past loadTimeoutMs (${loadTimeoutMs} ms): its signal was aborted and its rebuild lock given up; a value it returns later is not written`,
    );
    this.loadTimeoutMs = loadTimeoutMs;
  }
}

/** The load this caller waited for failed in another process; `message` is that loader's error message. The next call loads again. */
export class CacheLoadError extends CacheError {
  constructor(namespace: string, key: string, message: string) {
    super("ERR_SHARDIS_CACHE_LOAD", namespace, `the load of ${JSON.stringify(key)} failed in another process: ${message}`);
  }
}
