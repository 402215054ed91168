import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import type { IoredisConnectionOptions } from "./ioredisConnectionTypes.js";

/** "host:port", "[v6]:port" or an object. */
export type AddressInput = string | { host: string; port: number };

export interface Address {
  readonly host: string;
  readonly port: number;
  /**
   * The name a TLS connection verifies (and sends as SNI): the hostname a
   * cluster or sentinel announced, kept when natMap rewrites the address.
   * Unset for configured addresses (then `tls.servername`, else the host).
   */
  readonly servername?: string;
}

export interface ShardConfig {
  /**
   * Stable identity of the shard. Placement is keyed by name, never by
   * address, so moving a shard to a new host never moves its keys.
   * Letters, digits, `_`, `.` and `-`, at most 64 characters.
   */
  name: string;
  /** The shard's master node, fixed. Give this or `masterName`. */
  master?: AddressInput;
  /** Replicas of a fixed master, for reads by `readFrom` policy. */
  replicas?: AddressInput[];
  /** The master's name in Sentinel: master and replicas are discovered through `sentinels`. */
  masterName?: string;
  /**
   * Relative share of the keyspace: ketama points, or the size of the shard's
   * slot range in the default slot map.
   * @default 1
   */
  weight?: number;
}

export type { SlotRange } from "../sharding/slotMap.js";
import type { SlotRange } from "../sharding/slotMap.js";

export interface SlotShardingOptions {
  /** CRC16 hash slots (0..16383) with `{hash tags}`, identical to Redis Cluster. */
  strategy?: "slots";
  /**
   * Explicit owner of every slot, as inclusive ranges per shard name. Must
   * cover 0..16383 exactly once.
   * @default contiguous ranges in shard order, sized by weight; with equal
   *   weights the split `redis-cli --cluster create` makes.
   */
  slots?: Record<string, readonly SlotRange[]>;
}

export interface KetamaShardingOptions {
  /** md5 ketama, placement identical to twemproxy `hash: md5`, `distribution: ketama`. */
  strategy: "ketama";
  /**
   * Two characters that delimit the hashed part of a key, as twemproxy's
   * `hash_tag`. `false` hashes the whole key, like a pool without `hash_tag`.
   * @default false
   */
  hashTag?: string | false;
}

export type ShardingOptions = SlotShardingOptions | KetamaShardingOptions;

/** What a credentials provider returns: the ACL user (`default` when left out) and its password or token. */
export interface Credentials {
  username?: string;
  password: string;
}

/**
 * Called for every new connection, and for every re-authentication round
 * with `reauthenticateEveryMs`: returns the credentials to use now (an IAM
 * or Entra ID token, a secret manager's current password).
 */
export type CredentialsProvider = () => Credentials | Promise<Credentials>;

/** ioredis connection options applied to every node connection (ioredis's own, in ioredis's shape: ioredisConnectionTypes.ts). */
export interface RedisConnectionOptions extends IoredisConnectionOptions {
  username?: string;
  password?: string;
  /** Credentials that change: asked for on every new connection. Instead of `username` and `password`. */
  credentials?: CredentialsProvider;
  /**
   * With `credentials`: every this many ms, open connections send AUTH with
   * fresh credentials (one provider call per round), before the old ones
   * expire, without dropping anything in flight. Integer ms >= 1000.
   * @default off
   */
  reauthenticateEveryMs?: number;
  /** `true` for TLS with Node's defaults, or tls.connect() options. */
  tls?: boolean | TlsConnectionOptions;
  /** @default 0 */
  db?: number;
  /**
   * Milliseconds to establish a connection before it counts as failed.
   * @default 1000
   */
  connectTimeout?: number;
  /** @default 30000 (ioredis) */
  keepAlive?: number;
  /** @default true */
  noDelay?: boolean;
  connectionName?: string;
  /**
   * RESP version. Use 2 for proxies such as twemproxy.
   * @default 3 (ioredis)
   */
  protocol?: 2 | 3;
  /** Wait for the node to finish loading its dataset before sending. @default true */
  enableReadyCheck?: boolean;
  /** Skip CLIENT SETINFO on connect (proxies reject it). @default false */
  disableClientInfo?: boolean;
  /** IP family for DNS lookups. @default 0 (either) */
  family?: 0 | 4 | 6;
  /** Return integers as strings. @default false */
  stringNumbers?: boolean;
}

/**
 * Per node, a pool of dedicated connections beside the shared one, for
 * blocking commands (BLPOP, XREAD BLOCK, WAIT, ...) and withConnection()
 * (WATCH/MULTI). Subscriptions use one more connection per shard.
 */
export interface PoolOptions {
  /** Most dedicated connections per node. @default 16 */
  max?: number;
  /** Connections kept open per node even when idle. @default 0 */
  minIdle?: number;
  /** How long to wait for a free connection before PoolExhaustedError, in ms. @default 1000 */
  acquireTimeoutMs?: number;
  /** An idle connection above minIdle is closed after this long, in ms. @default 30000 */
  idleTimeoutMs?: number;
}

/**
 * Per node: opens when the node fails, so its commands fail fast with
 * CircuitOpenError instead of waiting for deadlines; probes after resetTimeoutMs.
 */
export interface BreakerOptions {
  /** Open when more than this percentage of the window's commands failed at the node. @default 50 */
  errorThresholdPercentage?: number;
  /** Fewest commands in the window before the percentage can open it. @default 20 */
  volumeThreshold?: number;
  /** Length of the rolling window, in ms. @default 1000 */
  windowMs?: number;
  /** How long it stays open before a probe (PING) may close it, in ms. @default 1000 */
  resetTimeoutMs?: number;
  /** Open at once when commands are in flight and nothing was answered for this long, in ms. @default 500 */
  stallMs?: number;
}

/** Retries of commands that are safe to repeat, within their deadline. */
export interface RetryOptions {
  /** Retries after the first attempt. @default 2 */
  attempts?: number;
  /** First backoff delay, in ms; doubles per retry, with jitter. @default 10 */
  baseDelayMs?: number;
  /** Largest backoff delay, in ms. @default 100 */
  maxDelayMs?: number;
  /**
   * Write commands you know are safe to repeat (SET, DEL, EXPIRE, ...),
   * retried like reads. Never INCR, LPUSH and the like: a retry applies twice.
   * @default []
   */
  idempotentCommands?: string[];
}

/** Called for a read whose node's breaker is open; its result (or promise) becomes the reply. */
export type FallbackFunction = (command: string, args: unknown[], error: Error) => unknown;

/** Which node of a shard serves read-only commands. Writes always go to the master. */
export type ReadPolicy = "master" | "replicaPreferred" | "replica" | "nearest" | "any";

/** How shardis connects to the sentinels: separate from the data nodes' credentials. */
export interface SentinelConnectionOptions {
  username?: string;
  password?: string;
  /** As `redis.credentials`, for the sentinels. */
  credentials?: CredentialsProvider;
  /** As `redis.reauthenticateEveryMs`, for the sentinels. */
  reauthenticateEveryMs?: number;
  tls?: boolean | TlsConnectionOptions;
  /** @default 1000 */
  connectTimeout?: number;
}

/** Wait for replicas after writes (WAIT), so an acknowledged write survives a failover. */
export interface WriteConcern {
  /** Replicas that must have the write. */
  replicas: number;
  /** How long to wait for them, in ms (WAIT's timeout; 0 is refused: it waits forever). */
  timeoutMs: number;
}

/**
 * The part of a prom-client Registry shardis uses (a structural type, so an
 * app's own prom-client copy works too).
 */
export interface MetricsRegistry {
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
  removeSingleMetric(name: string): void;
}

/** Prometheus export (prom-client). Counting itself is always on: see client.stats(). */
export interface MetricsOptions {
  /** Where the metrics are registered. @default prom-client's global `register` */
  registry?: MetricsRegistry;
  /** Prefix of every metric name. @default "shardis_" */
  prefix?: string;
  /** How often every node's INFO is read for the server_* and replication_lag_bytes metrics, in ms; 0 turns it off. @default 10000 */
  serverStatsIntervalMs?: number;
  /** Upper bounds of the command latency histogram, in seconds. @default 0.0001 ... 2.5 (14 bounds) */
  latencyBuckets?: number[];
  /**
   * Export the hot keys themselves (shardis_hot_key_rate{shard,key}): at
   * most hotKeys.topK series, keys longer than 64 characters truncated and
   * marked with a hash. Off by default: keys can hold user data. @default false
   */
  hotKeyLabels?: boolean;
}

/** The near cache: replies of read commands kept in process, dropped when Redis reports their key changed. */
export interface NearCacheOptions {
  /** Most entries kept (evicted by SIEVE: entries not read since the last pass go first). @default 10000 */
  maxEntries?: number;
  /** Most bytes of replies kept (reply length plus a fixed overhead per entry). @default 67108864 (64 MiB) */
  maxBytes?: number;
  /** Longest an entry is served without Redis having confirmed anything, in ms. @default 60000 */
  ttlMs?: number;
  /**
   * "default": Redis remembers the keys this client read and reports their
   * changes. "broadcast": Redis reports every change to keys under `prefixes`
   * (all keys without prefixes), remembering nothing per client. @default "default"
   */
  mode?: "default" | "broadcast";
  /** Broadcast mode only: the key prefixes to hear about. */
  prefixes?: string[];
  /** Read commands (of one key) whose replies are cached, and MGET (answered key by key from GET's entries). @default ["get", "mget", "hget", "hgetall", "exists", "strlen", "smembers"] */
  commands?: string[];
  /**
   * Cache only keys the hot-key detector ranks among their shard's top-k
   * (`hotKeys.topK`, this window or the last): a small near cache for the
   * few keys that pin a node. Reads answered from memory count toward a
   * key's rank, so a cached hot key stays hot. Needs the detector on. @default false
   */
  hotOnly?: boolean;
}

/** The hot-key detector: a streaming top-k of the keys each shard receives, in fixed memory. */
export interface HotKeyOptions {
  /** Keys reported per window. @default 50 */
  topK?: number;
  /** Length of the window the counts cover, in ms. @default 10000 */
  windowMs?: number;
  /** One command in this many (on average, at random) feeds the top-k sketch; 1 counts every command. @default 16 */
  sampleEvery?: number;
}

/** What the `shardis:call` and `shardis:command` tracing channels publish. */
export interface TracingOptions {
  /** Put the command's arguments (keys, values) in trace contexts. @default false */
  includeArgs?: boolean;
}

/** Rewrites an address a sentinel reported ("host:port") to the one to connect to. */
export type NatMap = Record<string, string> | ((address: string) => string);

/** Redis Cluster as the topology: its masters are the shards, its slot map places keys. */
export interface ClusterOptions {
  /** Nodes to ask for the cluster's shards first; any node of the cluster will do, more than one in case it is down. */
  seeds: AddressInput[];
}

/**
 * A live change of the fleet (shards added, removed or re-weighted): the
 * fleet before it, and when its timed phases start. Every process given the
 * same migration switches phases at the same wall-clock times, so app
 * servers need not restart in lockstep. See docs/scaling.md.
 */
export interface MigrationOptions {
  /**
   * The fleet before the change: its shards and how they placed keys
   * (`sharding`, default `{ strategy: "slots" }`). A shard in both fleets
   * (same name) must have the same master (or masterName) and replicas.
   * In `reconfigure()`, left out: the client's current fleet.
   */
  from?: { shards: ShardConfig[]; sharding?: ShardingOptions };
  /** When the first phase starts: an ISO 8601 string, a Date or epoch ms. In `reconfigure()`, in the future. */
  startAt: string | number | Date;
  /**
   * How long each of the two timed phases lasts (old reads with writes to
   * both; new reads falling back to the old owner), in ms. At least
   * 2 * (clockSkewMs + commandTimeoutMs + copyWindowMs).
   * @default 600000
   */
  phaseMs?: number;
  /**
   * The most two app servers' clocks may differ, in ms: the phases are
   * safe as long as it holds.
   * @default 1000
   */
  clockSkewMs?: number;
  /**
   * The longest a fallback read's copy may take, from its first look at the
   * new owner to the copy landing there (measured on that server's clock):
   * later copies are dropped.
   * @default 2000
   */
  copyWindowMs?: number;
}

/** What client.reconfigure() takes: the fleet after the change, and how to get there. */
export interface ReconfigureOptions {
  /** Every shard of the fleet after the change, in order (shards added at run time have a fixed `master`). */
  shards: ShardConfig[];
  /** How the new fleet places keys. @default the client's current strategy (slots: the default ranges over the new shards) */
  sharding?: ShardingOptions;
  /** Move keys over timed phases; without it, the new placement takes effect at once (keys that move read as misses). */
  migration?: MigrationOptions;
}

export interface ShardedClientOptions {
  /** The shards, in order. At least one; give `shards` or `cluster`. */
  shards?: ShardConfig[];
  /** A Redis Cluster instead of `shards` (and `sentinels`): its masters become the shards, named after their node ids. */
  cluster?: ClusterOptions;
  /** @default { strategy: "slots" } */
  sharding?: ShardingOptions;
  /** Connection options for every node. */
  redis?: RedisConnectionOptions;
  /**
   * Deadline of every command in milliseconds, counting time spent queued
   * while its node connects or reconnects.
   * @default 1000
   */
  commandTimeoutMs?: number;
  /**
   * Open node connections on first use instead of in the constructor.
   * @default false
   */
  lazyConnect?: boolean;
  /** Dedicated connections per node. */
  pool?: PoolOptions;
  /** Circuit breaker per node; `false` turns it off. */
  breaker?: BreakerOptions | false;
  /** Retries of reads (and idempotent writes); `false` turns them off. */
  retry?: RetryOptions | false;
  /**
   * Most commands that may wait per node while it connects or reconnects;
   * past it they fail fast with QueueFullError.
   * @default 10000
   */
  maxQueueLength?: number;
  /**
   * Auto-pipelining: commands issued in one event-loop turn leave in one
   * write per node at the end of the turn. A turn that runs longer (an
   * application computing, a near cache answering thousands of reads from
   * memory) writes what it has queued once its oldest command has waited
   * this long, so the node works while the turn goes on. 0 writes every
   * command at once; `false` always waits for the end of the turn.
   * @default false; 1 when `nearCache` is on
   */
  maxWriteDelayMs?: number | false;
  /** For reads when a node's breaker is open: `(command, args, error) => value`. */
  fallback?: FallbackFunction;
  /** Sentinels to discover the masters (and replicas) of shards given by `masterName`. */
  sentinels?: AddressInput[];
  /** Connection options for the sentinels. */
  sentinelOptions?: SentinelConnectionOptions;
  /** Where read-only commands go. @default "master" */
  readFrom?: ReadPolicy;
  /** Replicas further behind their master than this are not read from, in ms. @default 1000 */
  maxReplicaLagMs?: number;
  /** How often replicas' replication state and every node's latency are checked, in ms. @default 250 */
  healthCheckIntervalMs?: number;
  /** How often the topology is re-read from Sentinel besides its events, in ms. @default 10000 */
  topologyRefreshMs?: number;
  /** Rewrites addresses sentinels report (NAT, containers). */
  natMap?: NatMap;
  /**
   * The only addresses a sentinel or cluster node may send the client to:
   * "host", "host:port" or "host:*" (no port: any), `*` standing for one
   * whole label of the host ("10.0.0.*", "*.cache.example:6379"). Checked
   * after natMap; others are refused, reported and never connected to.
   * @default any
   */
  allowedAddresses?: string[];
  /** Wait for replicas after every write. Per call: client.with({ writeConcern }). @default none */
  writeConcern?: WriteConcern;
  /** Export metrics to Prometheus through prom-client. @default off */
  metrics?: MetricsOptions;
  /**
   * An in-process cache of read replies, kept correct by Redis client
   * tracking (RESP3 invalidation messages). Off by default. See docs/near-cache.md.
   */
  nearCache?: NearCacheOptions | false;
  /**
   * The shard that takes commands with no key to route by (FLUSHDB, KEYS,
   * RANDOMKEY, scripts without keys), as ioredis's one connection would.
   * Default: a client of one shard sends them there; a larger fleet
   * refuses them with KeylessCommandError (use client.shard(name)).
   */
  keyless?: { shard: string };
  /** The hot-key detector (client.hotKeys()); `false` turns it off. @default { topK: 50, windowMs: 10000, sampleEvery: 16 } */
  hotKeys?: HotKeyOptions | false;
  /** What the `shardis:call` and `shardis:command` tracing channels carry. @default { includeArgs: false } */
  tracing?: TracingOptions;
  /** A live change of the fleet in progress: `shards` is the fleet after it, `migration.from` the one before. See docs/scaling.md. */
  migration?: MigrationOptions;
}
