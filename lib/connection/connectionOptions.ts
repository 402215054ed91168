import type { RedisOptions } from "ioredis";
import type { Address, RedisConnectionOptions } from "../config/types.js";
import { reconnectDelay } from "../resilience/backoff.js";
import { DEFAULTS } from "../config/defaults.js";

/**
 * ioredis options for a shardis-managed connection. shardis owns queueing,
 * pipelining, deadlines and retries, so ioredis must never queue or re-send a
 * command on its own: a command it re-sent after a reconnect could be applied
 * twice, or after its caller was told it timed out.
 */
export function connectionOptions(address: Address, redis: Readonly<RedisConnectionOptions>, extraAttempts: () => number = () => 0): RedisOptions {
  return {
    ...(redis as RedisOptions),
    host: address.host,
    port: address.port,
    lazyConnect: true,
    enableAutoPipelining: false,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    // Subscriptions are restored by shardis (pubsub/restore.ts), with a deadline, retries and events.
    autoResubscribe: false,
    maxRetriesPerRequest: null,
    showFriendlyErrorStack: false,
    retryStrategy: (attempt: number) => reconnectDelay(attempt + extraAttempts(), DEFAULTS.reconnect),
  };
}
