/**
 * The connection options that are ioredis's own, in ioredis's shape, so
 * ioredis code moves over unchanged (docs/ioredis-compatibility.md, "ioredis
 * options"): part of every node's `redis` options (types.ts's
 * RedisConnectionOptions), kept here to keep that file to one idea a screen.
 */
export interface IoredisConnectionOptions {
  /**
   * ioredis's keyPrefix: put before every key argument of every command (by
   * ioredis's rules: not on KEYS/SCAN patterns, channels or replies), in
   * pipelines, transactions, scripts' KEYS, the cache layer and duplicates.
   * Part of the key for placement: `{tag}` after the prefix hashes as on
   * Redis Cluster. @default ""
   */
  keyPrefix?: string;
  /**
   * ioredis's reply shapes over RESP3: "resp3" gives maps as objects
   * (XREAD, XREADGROUP by stream name), doubles as numbers (ZSCORE,
   * WITHSCORES pairs), as ioredis does with the same option. Needs
   * protocol 3. @default "legacy"
   */
  replyMapping?: "legacy" | "resp3";
  /**
   * ioredis's: the delay before each connection's next reconnect attempt,
   * called with the attempt number (1 after a loss, counted again from 1
   * once connected); a number is the delay in ms, anything else stops that
   * connection reconnecting, and its commands then fail at once with
   * ConnectionError ("Connection is closed."). null, as in ioredis: a
   * connection is never reopened once lost (or once its first attempt failed).
   * @default shardis's capped, jittered backoff (50 ms doubling to 2 s)
   */
  retryStrategy?: ((times: number) => number | void | null) | null;
  /**
   * ioredis's: commands waiting for a connection (not yet written) fail
   * with MaxRetriesPerRequestError, a ConnectionError ("Reached the max retries per request limit ...")
   * at every (n+1)th failed attempt in a row to connect; null: they wait,
   * bounded by commandTimeoutMs (and failed sooner by an open breaker).
   * @default null
   */
  maxRetriesPerRequest?: number | null;
  /**
   * ioredis's: false makes a command sent while its node's connection is not
   * ready (connecting, reconnecting) fail at once with ConnectionError
   * instead of waiting for it. Dedicated (blocking, subscriber) connections
   * still wait for their own connect. @default true
   */
  enableOfflineQueue?: boolean;
  /**
   * ioredis's: a connection that has commands written and receives nothing
   * for this long is dropped (and reconnects); what was in flight fails with
   * ConnectionError. Applies to blocking commands too, as in ioredis.
   * @default off
   */
  socketTimeout?: number;
  /**
   * ioredis's: a blocking command on the client (BLPOP, XREAD BLOCK, ...)
   * that gets no reply resolves null (as if the server's timeout passed)
   * after its own timeout plus blockingTimeoutGrace, or after this many ms
   * when it blocks without end (timeout 0); its connection is dropped.
   * 0: off. @default off
   */
  blockingTimeout?: number;
  /** With blockingTimeout: added to a blocking command's own timeout, in ms. @default 100 (ioredis) */
  blockingTimeoutGrace?: number;
  /**
   * ioredis's: taken as the top-level commandTimeoutMs, every command's
   * deadline (for a blocking command, added to its own timeout). Give one
   * of the two (both, unequal: ConfigError).
   */
  commandTimeout?: number;
  /** ioredis's: taken as the top-level lazyConnect. */
  lazyConnect?: boolean;
  /**
   * ioredis options shardis does its own way: accepted so ioredis code
   * moves over unchanged, ignored, and named once in a process warning
   * (SHARDIS_IGNORED_OPTION) saying what shardis does instead.
   */
  enableAutoPipelining?: boolean;
  reconnectOnError?: ((error: Error) => boolean | 1 | 2) | null;
  autoResendUnfulfilledCommands?: boolean;
  autoResubscribe?: boolean;
  showFriendlyErrorStack?: boolean;
}
