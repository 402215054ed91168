/**
 * The one place options are validated and defaults applied. resolveOptions()
 * collects every problem before throwing a single ConfigError, so a user
 * fixes a config in one pass; it never opens a connection and never mutates
 * its input. The result is deeply frozen.
 */
import { ConfigError } from "../errors.js";
import { DEFAULTS, MAX_TIMEOUT_MS } from "./defaults.js";
import { describe } from "./address.js";
import { checkCredentials, deepFreeze, intRange, isBoolean, isFunction, isString, oneOf, tlsOption, unknownKeys, type Check } from "./checks.js";
import { HA_FIELDS, resolveHa, type ResolvedHa } from "./ha.js";
import { resolveMetrics, resolveTracing, type ResolvedMetrics, type ResolvedTracing } from "./metrics.js";
import { resolveShards, type ResolvedShard } from "./shards.js";
import { resolveSharding, type ResolvedSharding } from "./sharding.js";
import { resolveMigration, type ResolvedMigration } from "./migration.js";
import { resolveCluster, type ResolvedCluster } from "./cluster.js";
import { resolveHotKeys, type ResolvedHotKeys } from "./hotKeys.js";
import { resolveNearCache, type ResolvedNearCache } from "./nearCache.js";
import { resolveKeyless } from "./keyless.js";
import { IGNORED_REDIS_FIELDS, warnIgnored } from "./ignoredRedisFields.js";
import { fromIoredisSentinel } from "./ioredisSentinel.js";
import { fromUrls } from "./redisUrl.js";
import { exists as commandExists } from "@ioredis/commands";
import type { ResolvedBreakerOptions } from "../resilience/breaker.js";
import type { BreakerOptions, FallbackFunction, PoolOptions, RedisConnectionOptions, RetryOptions, ShardedClientOptions } from "./types.js";

export type { ResolvedShard } from "./shards.js";

export type { ResolvedSharding } from "./sharding.js";

/** With a cluster, slots owned as the cluster says; the ranges come with each layout. */
const CLUSTER_SHARDING: ResolvedSharding = { strategy: "slots", ranges: [] };

export interface ResolvedOptions extends ResolvedHa {
  /**
   * The configured shards; empty with `cluster`, whose masters are discovered.
   * With a `migration`, both fleets': the shards after the change first, then those only the fleet before has.
   */
  readonly shards: readonly ResolvedShard[];
  /** A live fleet change (its placements index `shards`); undefined otherwise. */
  readonly migration: ResolvedMigration | undefined;
  /** Redis Cluster as the topology source; undefined for configured shards. */
  readonly cluster: ResolvedCluster | undefined;
  readonly sharding: ResolvedSharding;
  readonly redis: Readonly<RedisConnectionOptions>;
  readonly commandTimeoutMs: number;
  readonly lazyConnect: boolean;
  readonly pool: Readonly<Required<PoolOptions>>;
  readonly breaker: ResolvedBreakerOptions;
  readonly retry: ResolvedRetryOptions;
  readonly maxQueueLength: number;
  /** Infinity when `false` (always the end of the turn). */
  readonly maxWriteDelayMs: number;
  readonly fallback: FallbackFunction | undefined;
  /** Prometheus export; undefined when off. */
  readonly metrics: ResolvedMetrics | undefined;
  readonly tracing: ResolvedTracing;
  /** The hot-key detector; undefined when off. */
  readonly hotKeys: ResolvedHotKeys | undefined;
  /** The near cache; undefined when off. */
  readonly nearCache: ResolvedNearCache | undefined;
  /** The shard that takes keyless commands; undefined: the only shard if there is one, else refused. */
  readonly keyless: string | undefined;
  /** ioredis's keyPrefix (given as redis.keyPrefix), put on every key a caller sends; "" for none. */
  readonly keyPrefix: string;
}

export interface ResolvedRetryOptions {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly idempotentCommands: readonly string[];
}

/** Every option ShardedClientOptions has. */
export const TOP_LEVEL_FIELDS: readonly string[] = [
  "shards", "cluster", "sharding", "redis", "commandTimeoutMs", "lazyConnect", "pool", "breaker", "retry", "maxQueueLength", "maxWriteDelayMs", "fallback",
  "metrics", "tracing", "hotKeys", "nearCache", "migration", "keyless", ...HA_FIELDS,
];
/** ioredis options a user may set; values of secrets are never echoed. */
export const REDIS_FIELDS: Record<string, Check> = {
  username: isString,
  password: isString,
  credentials: isFunction,
  reauthenticateEveryMs: intRange(1000, MAX_TIMEOUT_MS),
  tls: (v) => (typeof v === "boolean" || (typeof v === "object" && v !== null) ? undefined : "must be true, false or tls options"),
  db: intRange(0, 1_000_000),
  connectTimeout: intRange(1, MAX_TIMEOUT_MS),
  keepAlive: intRange(0, MAX_TIMEOUT_MS),
  noDelay: isBoolean,
  connectionName: isString,
  protocol: oneOf(2, 3),
  enableReadyCheck: isBoolean,
  disableClientInfo: isBoolean,
  family: oneOf(0, 4, 6),
  stringNumbers: isBoolean,
  keyPrefix: isString,
  replyMapping: oneOf("legacy", "resp3"),
  // ioredis's options mapped onto shardis's own mechanisms (docs/ioredis-compatibility.md#ioredis-options):
  // null: ioredis's "never reconnect".
  retryStrategy: (v) => (v === null || typeof v === "function" ? undefined : `must be a function (times) => delay in ms, or null (got ${describe(v)})`),
  maxRetriesPerRequest: (v) => (v === null ? undefined : intRange(0, 1_000_000)(v)),
  enableOfflineQueue: isBoolean,
  socketTimeout: intRange(1, MAX_TIMEOUT_MS),
  blockingTimeout: intRange(0, MAX_TIMEOUT_MS),
  blockingTimeoutGrace: intRange(0, MAX_TIMEOUT_MS),
};

/** ioredis options shardis sets itself, with what to use instead. */
const MANAGED_REDIS_FIELDS: Record<string, string> = {
  host: "give addresses in shards[].master",
  port: "give addresses in shards[].master",
  sentinels: "Sentinel support is configured per shard, not in redis",
};

/**
 * ioredis options that are shardis's top-level ones: taken under `redis`
 * (and by duplicate()) as that option, so ioredis options move over as they
 * are. commandTimeout is every command's deadline (blocking ones: added to
 * their own timeout, where ioredis counts it from the send).
 */
export const REDIS_ALIASES: Readonly<Record<string, "commandTimeoutMs" | "lazyConnect">> = {
  commandTimeout: "commandTimeoutMs",
  lazyConnect: "lazyConnect",
};

export function resolveOptions(input: unknown): ResolvedOptions {
  const problems: string[] = [];
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ConfigError([`options must be an object (got ${describe(input)})`]);
  }
  const options = liftAliases(fromUrls(fromIoredisSentinel(input as Record<string, unknown>, isConnectionField, problems), isConnectionField, REDIS_FIELDS, problems), problems);
  unknownKeys(options, TOP_LEVEL_FIELDS, "option", problems);

  const cluster = resolveCluster(options.cluster, options, problems);
  const shards = cluster || options.cluster !== undefined ? [] : resolveShards(options.shards, problems);
  const sharding = cluster ? CLUSTER_SHARDING : resolveSharding(options.sharding, shards, problems);
  const { keyPrefix = "", ...redis } = resolveRedis(options.redis, problems);
  const commandTimeoutMs = resolveTimeout(options.commandTimeoutMs, problems);
  const lazyConnect = options.lazyConnect ?? DEFAULTS.lazyConnect;
  if (typeof lazyConnect !== "boolean") problems.push(`lazyConnect ${isBoolean(lazyConnect)}`);

  const pool = resolveNumbers<Required<PoolOptions>>("pool", options.pool, POOL_FIELDS, DEFAULTS.pool, problems);
  if (pool.minIdle > pool.max) problems.push(`pool.minIdle (${pool.minIdle}) must not exceed pool.max (${pool.max})`);
  const breaker = resolveBreaker(options.breaker, problems);
  const retry = resolveRetry(options.retry, problems);
  const maxQueueLength = options.maxQueueLength ?? DEFAULTS.maxQueueLength;
  const queueProblem = intRange(1, 10_000_000)(maxQueueLength);
  if (queueProblem) problems.push(`maxQueueLength ${queueProblem}`);
  const fallback = options.fallback;
  if (fallback !== undefined && typeof fallback !== "function") {
    problems.push(`fallback must be a function (command, args, error) => value (got ${describe(fallback)})`);
  }

  let union = shards;
  let migration: ResolvedMigration | undefined;
  if (options.migration !== undefined && (cluster || options.cluster !== undefined)) {
    problems.push("migration is for configured shards: a Redis Cluster moves its slots itself (see docs/cluster.md)");
  } else if (!cluster) {
    ({ union, migration } = resolveMigration(options.migration, shards, sharding, commandTimeoutMs, problems));
  }
  const ha = resolveHa(options, union, problems);
  const metrics = resolveMetrics(options.metrics, problems);
  const tracing = resolveTracing(options.tracing, problems);
  const hotKeys = resolveHotKeys(options.hotKeys, problems);
  const nearCache = resolveNearCache(options.nearCache, (options.redis as { protocol?: unknown } | undefined)?.protocol, hotKeys !== undefined, problems);
  const keyless = resolveKeyless(options.keyless, shards, problems);
  const maxWriteDelayMs = resolveWriteDelay(options.maxWriteDelayMs, nearCache !== undefined, problems);

  if (problems.length || !sharding) throw new ConfigError(problems);
  return deepFreeze({
    ...ha,
    shards: union,
    migration,
    cluster,
    sharding,
    redis,
    commandTimeoutMs,
    lazyConnect: lazyConnect as boolean,
    pool,
    breaker,
    retry,
    maxQueueLength: maxQueueLength as number,
    maxWriteDelayMs,
    fallback: fallback as FallbackFunction | undefined,
    metrics,
    tracing,
    hotKeys,
    nearCache,
    keyless,
    keyPrefix,
  });
}

/** The options in shardis's own shape: ioredis's Sentinel shape and URL addresses read as such (problems left to resolveOptions). */
export function shardisShape(input: ShardedClientOptions): ShardedClientOptions {
  return fromUrls(fromIoredisSentinel(input as Record<string, unknown>, isConnectionField, []), isConnectionField, REDIS_FIELDS, []) as ShardedClientOptions;
}

/** An ioredis connection option (taken under `redis`, or at the top level in ioredis's Sentinel shape). */
export function isConnectionField(key: string): boolean {
  return Object.hasOwn(REDIS_FIELDS, key) || Object.hasOwn(IGNORED_REDIS_FIELDS, key) || Object.hasOwn(REDIS_ALIASES, key);
}

/** `redis.commandTimeout` and `redis.lazyConnect` as the top-level options they are (a problem when both are given and differ). */
function liftAliases(options: Record<string, unknown>, problems: string[]): Record<string, unknown> {
  const redis = options.redis;
  if (typeof redis !== "object" || redis === null || Array.isArray(redis)) return options;
  const given = Object.entries(REDIS_ALIASES).filter(([alias]) => (redis as Record<string, unknown>)[alias] !== undefined);
  if (given.length === 0) return options;
  const lifted: Record<string, unknown> = { ...options, redis: { ...redis } };
  for (const [alias, top] of given) {
    const value = (redis as Record<string, unknown>)[alias];
    delete (lifted.redis as Record<string, unknown>)[alias];
    if (options[top] !== undefined && options[top] !== value) problems.push(`redis.${alias} (${describe(value)}) and ${top} (${describe(options[top])}) differ: give one`);
    else lifted[top] = value;
  }
  return lifted;
}

function resolveRedis(value: unknown, problems: string[]): RedisConnectionOptions {
  if (value === undefined) return { ...DEFAULTS.redis };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    problems.push(`redis must be an object of connection options (got ${describe(value)})`);
    return {};
  }
  const redis: Record<string, unknown> = { ...DEFAULTS.redis };
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const managed = MANAGED_REDIS_FIELDS[key];
    const check = REDIS_FIELDS[key];
    if (managed) problems.push(`redis.${key} is managed by shardis: ${managed}`);
    else if (Object.hasOwn(IGNORED_REDIS_FIELDS, key)) warnIgnored(key, "redis");
    else if (!check) problems.push(`unknown option 'redis.${key}'`);
    else {
      const problem = check(v);
      if (problem) problems.push(`redis.${key} ${problem}`);
      else if (key !== "tls") redis[key] = v;
      else if (v !== false) redis.tls = tlsOption(v);
    }
  }
  checkCredentials("redis", value as Record<string, unknown>, problems);
  // As ioredis: RESP3's maps and doubles only come over RESP3.
  if (redis.replyMapping === "resp3" && redis.protocol === 2) problems.push('redis.replyMapping "resp3" is only supported with protocol 3 (redis.protocol is 2)');
  return redis as RedisConnectionOptions;
}

const POOL_FIELDS: Record<keyof PoolOptions, Check> = {
  max: intRange(1, 10_000),
  minIdle: intRange(0, 10_000),
  acquireTimeoutMs: intRange(1, MAX_TIMEOUT_MS),
  idleTimeoutMs: intRange(1, MAX_TIMEOUT_MS),
};

const BREAKER_FIELDS: Record<keyof BreakerOptions, Check> = {
  errorThresholdPercentage: intRange(1, 100),
  volumeThreshold: intRange(1, 1_000_000),
  windowMs: intRange(10, 600_000),
  resetTimeoutMs: intRange(1, MAX_TIMEOUT_MS),
  stallMs: intRange(1, MAX_TIMEOUT_MS),
};

const RETRY_FIELDS: Record<Exclude<keyof RetryOptions, "idempotentCommands">, Check> = {
  attempts: intRange(0, 100),
  baseDelayMs: intRange(0, 60_000),
  maxDelayMs: intRange(0, 600_000),
};

/** An object of numeric fields checked against `fields`, over `defaults`. */
function resolveNumbers<T extends object>(
  name: string,
  value: unknown,
  fields: Record<string, Check>,
  defaults: T,
  problems: string[],
  extra: string[] = [],
): T {
  const result = { ...defaults } as Record<string, unknown>;
  if (value === undefined) return result as T;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    problems.push(`${name} must be an object (got ${describe(value)})`);
    return result as T;
  }
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || extra.includes(key)) continue;
    const check = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (!check) {
      problems.push(`unknown option '${name}.${key}'`);
      continue;
    }
    const problem = check(v);
    if (problem) problems.push(`${name}.${key} ${problem}`);
    else result[key] = v;
  }
  return result as T;
}

function resolveBreaker(value: unknown, problems: string[]): ResolvedBreakerOptions {
  if (value === false) return { ...DEFAULTS.breaker, enabled: false };
  return { ...resolveNumbers("breaker", value, BREAKER_FIELDS, DEFAULTS.breaker, problems), enabled: true };
}

function resolveRetry(value: unknown, problems: string[]): ResolvedRetryOptions {
  if (value === false) return { ...DEFAULTS.retry, attempts: 0 };
  const numbers = resolveNumbers("retry", value, RETRY_FIELDS, DEFAULTS.retry, problems, ["idempotentCommands"]);
  const listed = (value as RetryOptions | undefined)?.idempotentCommands ?? [];
  if (!Array.isArray(listed) || !listed.every((c) => typeof c === "string")) {
    problems.push("retry.idempotentCommands must be an array of command names");
    return { ...numbers, idempotentCommands: [] };
  }
  const names = listed.map((c) => c.toLowerCase());
  for (const name of names) if (!commandExists(name)) problems.push(`retry.idempotentCommands names unknown command '${name}'`);
  return { ...numbers, idempotentCommands: names };
}

function resolveTimeout(value: unknown, problems: string[]): number {
  const timeout = value ?? DEFAULTS.commandTimeoutMs;
  if (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout <= 0 || timeout > MAX_TIMEOUT_MS) {
    problems.push(`commandTimeoutMs must be a number of milliseconds from 1 to ${MAX_TIMEOUT_MS} (got ${describe(value)})`);
    return DEFAULTS.commandTimeoutMs;
  }
  return timeout;
}

/** Infinity for false (the end of the turn); the default depends on whether a near cache is on. */
function resolveWriteDelay(value: unknown, nearCache: boolean, problems: string[]): number {
  const given = value === undefined ? DEFAULTS.maxWriteDelayMs[nearCache ? "withNearCache" : "withoutNearCache"] : value;
  if (given === false) return Infinity;
  if (typeof given !== "number" || !Number.isFinite(given) || given < 0 || given > 1000) {
    problems.push(`maxWriteDelayMs must be false or a number of ms from 0 to 1000 (got ${describe(given)})`);
    return Infinity;
  }
  return given;
}
