/**
 * ioredis connection options that ask for something shardis does its own
 * way: accepted under `redis` (and by duplicate()) so `new Redis(options)`
 * code moves over unchanged, left out of what the connections get, and
 * named once per process in a warning (code SHARDIS_IGNORED_OPTION) that
 * says what shardis does instead. Options whose silent loss would change
 * addresses (host, port, sentinels) stay refused; those shardis has a
 * mechanism for (keyPrefix, retryStrategy, maxRetriesPerRequest,
 * enableOfflineQueue, socketTimeout, blockingTimeout) are honoured, in
 * config/resolve.ts's REDIS_FIELDS.
 */
export const IGNORED_REDIS_FIELDS: Readonly<Record<string, string>> = {
  enableAutoPipelining: "shardis pipelines every node itself",
  reconnectOnError: "shardis follows failovers itself (READONLY, LOADING, MOVED)",
  autoResendUnfulfilledCommands: "shardis never re-sends a command silently: reads and idempotent writes are retried, other writes fail with ConnectionError",
  autoResubscribe: "shardis subscribes again itself after a reconnect, with retries and subscription:error events",
  showFriendlyErrorStack: "shardis errors carry their own stacks",
};

const warned = new Set<string>();

/** Warns once per process for each ignored option given. */
export function warnIgnored(field: string, where: string, reason = IGNORED_REDIS_FIELDS[field]): void {
  if (warned.has(field)) return;
  warned.add(field);
  process.emitWarning(`${where}.${field} is ignored: ${reason}`, { code: "SHARDIS_IGNORED_OPTION" });
}
