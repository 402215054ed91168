/**
 * Every default shardis applies, in one place. Docs (docs/configuration.md)
 * and option JSDoc quote these values; nothing else hard-codes them.
 */
export const DEFAULTS = Object.freeze({
  commandTimeoutMs: 1000,
  lazyConnect: false,
  weight: 1,
  strategy: "slots" as const,
  ketamaHashTag: false as const,
  /** Hash tag delimiters of the slot strategy; fixed by the Redis Cluster spec. */
  slotHashTag: "{}",
  redis: Object.freeze({
    connectTimeout: 1000,
  }),
  reconnect: Object.freeze({
    /** First delay before reconnecting to a node, in ms. */
    baseDelayMs: 50,
    /** Upper bound of the reconnect delay, in ms. */
    maxDelayMs: 2000,
  }),
  pool: Object.freeze({
    max: 16,
    minIdle: 0,
    acquireTimeoutMs: 1000,
    idleTimeoutMs: 30_000,
  }),
  breaker: Object.freeze({
    errorThresholdPercentage: 50,
    volumeThreshold: 20,
    windowMs: 1000,
    resetTimeoutMs: 1000,
    stallMs: 500,
  }),
  retry: Object.freeze({
    attempts: 2,
    baseDelayMs: 10,
    maxDelayMs: 100,
    idempotentCommands: Object.freeze([] as string[]),
  }),
  maxQueueLength: 10_000,
  /**
   * How long a long turn's oldest queued command waits before what is queued
   * is written (ms; false: the end of the turn). With a near cache turns are
   * long (reads answered from memory between the misses), and writing early
   * measured 1.2-1.5x the throughput; without one, one write per turn is the
   * contract (see ShardedClientOptions.maxWriteDelayMs).
   */
  maxWriteDelayMs: Object.freeze({ withoutNearCache: false as const, withNearCache: 1 }),
  readFrom: "master" as const,
  maxReplicaLagMs: 1000,
  healthCheckIntervalMs: 250,
  topologyRefreshMs: 10_000,
  /** Least time between two topology refreshes, in ms: a burst of Sentinel events costs one. */
  refreshCooldownMs: 100,
  sentinel: Object.freeze({ connectTimeout: 1000, commandTimeoutMs: 1000 }),
  /** How long quit() waits for QUIT replies before dropping sockets, in ms. */
  quitTimeoutMs: 2000,
  nearCache: Object.freeze({
    maxEntries: 10_000,
    /** 64 MiB, counted as reply length plus a fixed overhead per entry. */
    maxBytes: 64 * 1024 * 1024,
    ttlMs: 60_000,
    mode: "default" as "default" | "broadcast",
    /** Read commands of one key whose replies are cached, and MGET (from GET's entries). */
    commands: Object.freeze(["get", "mget", "hget", "hgetall", "exists", "strlen", "smembers"]),
    /** Cache every key read, not only the hot-key detector's top-k. */
    hotOnly: false,
  }),
  hotKeys: Object.freeze({
    /** Keys reported per window (and counted per shard, with 8x as many counters). */
    topK: 50,
    windowMs: 10_000,
    /** One command in this many, on average, feeds the top-k sketch (every command counts toward its shard's load). */
    sampleEvery: 16,
  }),
  metrics: Object.freeze({
    prefix: "shardis_",
    /** Hot keys as metric labels (at most topK series, keys truncated): opt-in, keys may be sensitive or unbounded. */
    hotKeyLabels: false,
    /** Longest key (in characters) a hot-key label keeps; longer ones are truncated and marked with a short hash. */
    hotKeyLabelLength: 64,
    serverStatsIntervalMs: 10_000,
    /** Command latency histogram bounds, in seconds: 100 µs to 2.5 s, about 2x apart. */
    latencyBuckets: Object.freeze([0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]),
    /** Pipeline batch size histogram bounds, in commands per write. */
    batchBuckets: Object.freeze([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]),
    /** Cache loader duration histogram bounds, in seconds: 1 ms to 10 s. */
    loadBuckets: Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
  }),
  tracing: Object.freeze({ includeArgs: false }),
  migration: Object.freeze({
    /** Each of the two timed phases, in ms. */
    phaseMs: 600_000,
    /** The most two app servers' clocks differ, in ms. */
    clockSkewMs: 1000,
    /** A fallback read's copy older than this (on the new owner's clock) is dropped, in ms. */
    copyWindowMs: 2000,
    /** Writes whose invalidation failed, kept per client for a retry in the background; beyond it the oldest is dropped (and counted). */
    maxPendingInvalidations: 10_000,
    /** Keys per copyAll() batch (one SCAN COUNT, one DUMP script per old shard). */
    copyBatch: 100,
  }),
  cache: Object.freeze({
    /** Each write's TTL is ttlMs * (1 ± up to this), so keys written together do not expire together. */
    jitter: 0.1,
    /** After ttlMs, how long the old value is still served while one caller refreshes it, in ms. */
    staleMs: 0,
    /** XFetch's beta: higher refreshes earlier. */
    earlyRefreshBeta: 1,
    /** Rebuild lock lifetime, in ms; the holder extends it (every third of it) while its loader runs. */
    lockTtlMs: 1000,
    /** How long a caller waits for a value being loaded (by another caller or its own loader), in ms. */
    waitTimeoutMs: 2000,
    /** How long a loader may run before its load is abandoned (signal aborted, lock given up), in ms. */
    loadTimeoutMs: 10_000,
    /** How long "not found" (the loader returned undefined) is cached, in ms; 0: never. */
    negativeTtlMs: 0,
    /** How long the message of a failed load stays for the callers that waited on it, in ms. */
    loadErrorTtlMs: 1000,
    /** Polling for a value another process is loading: a few quick looks this far apart (ms), then doubling delays up to the cap. */
    pollFirstMs: 1,
    pollQuickTries: 4,
    pollMaxMs: 50,
  }),
});

/** setTimeout's largest delay; longer deadlines would fire at once. */
export const MAX_TIMEOUT_MS = 2_147_483_647;
