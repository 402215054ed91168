/**
 * ioredis connection options that ask for something shardis does its own
 * way: accepted under `redis` (and by duplicate()) so `new Redis(options)`
 * code moves over unchanged, left out of what the connections get, and
 * named once per process in a warning (code SHARDIS_IGNORED_OPTION) that
 * says what shardis does instead. Options whose silent loss would change
 * addresses (host, port, sentinels) stay refused; keyPrefix is honoured.
 */
export const IGNORED_REDIS_FIELDS: Readonly<Record<string, string>> = {
  enableAutoPipelining: "shardis pipelines every node itself",
  enableOfflineQueue: "shardis queues commands while a node connects, bounded by maxQueueLength and commandTimeoutMs",
  maxRetriesPerRequest: "commands are bounded by commandTimeoutMs; reads and idempotent writes are retried within it (the retry option)",
  retryStrategy: "shardis reconnects with capped, jittered backoff, and a node that keeps failing trips its breaker",
  reconnectOnError: "shardis follows failovers itself (READONLY, LOADING, MOVED)",
  autoResendUnfulfilledCommands: "shardis never re-sends a command silently: reads and idempotent writes are retried, other writes fail with ConnectionError",
  autoResubscribe: "shardis subscribes again itself after a reconnect, with retries and subscription:error events",
  socketTimeout: "every command has a deadline (commandTimeoutMs), and a node that does not answer trips its breaker",
  blockingTimeout: "blocking commands run on pooled connections, bounded by their own timeout",
  showFriendlyErrorStack: "shardis errors carry their own stacks",
};

const warned = new Set<string>();

/** Warns once per process for each ignored option given. */
export function warnIgnored(field: string, where: string, reason = IGNORED_REDIS_FIELDS[field]): void {
  if (warned.has(field)) return;
  warned.add(field);
  process.emitWarning(`${where}.${field} is ignored: ${reason}`, { code: "SHARDIS_IGNORED_OPTION" });
}
