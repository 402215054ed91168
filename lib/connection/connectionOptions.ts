import { isIP } from "node:net";
import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
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
  // shardis's own: the provider is asked before each connect (credentials.ts), never handed to ioredis.
  // blockingTimeout is applied by shardis to its blocking commands (exec/blockingNet.ts): ioredis's own would settle a
  // command whose connection shardis then lends again, still blocked at the server.
  const { credentials: _provider, reauthenticateEveryMs: _every, blockingTimeout: _net, blockingTimeoutGrace: _grace, ...ioredis } = redis;
  const strategy = redis.retryStrategy;
  return {
    ...(ioredis as RedisOptions),
    ...(redis.tls && { tls: tlsFor(address, redis.tls as TlsConnectionOptions) }),
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
    // ioredis's retryStrategy when given (a non-number stops this connection reconnecting; NodeClient then fails its commands).
    // null, ioredis's "never reconnect": a function answering no delay, as shardis's own code calls it (credentials.ts).
    retryStrategy: (attempt: number) =>
      strategy === null ? null : strategy ? strategy(attempt + extraAttempts()) : reconnectDelay(attempt + extraAttempts(), DEFAULTS.reconnect),
  };
}

/**
 * TLS options for one node: the servername it is verified against (and the
 * SNI sent) is the name the cluster or sentinel announced for it, else the
 * configured `servername`, else the hostname dialled (an IP sends none).
 */
export function tlsFor(address: Address, tls: Readonly<TlsConnectionOptions>): TlsConnectionOptions {
  const servername = address.servername ?? tls.servername ?? (isIP(address.host) ? undefined : address.host);
  return servername === undefined ? { ...tls } : { ...tls, servername };
}
