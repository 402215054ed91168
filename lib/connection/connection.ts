/**
 * What a NodeClient needs from a connection to one node: the part of an
 * ioredis Redis it uses, and nothing more. Connections come from a factory,
 * so tests hand NodeClient a fake and the logic above runs without a server.
 */
import { Redis } from "ioredis";
import type { Address, RedisConnectionOptions } from "../config/types.js";
import type { ShardisCommand } from "../commands/command.js";
import { connectionOptions } from "./connectionOptions.js";
import { refusedSelect } from "./handshake.js";
import { untraced } from "./untraced.js";
import { ownConnection } from "./pushes.js";
import { credentialsOnConnect } from "./credentials.js";
import { youngCommandQueue } from "./youngQueue.js";
import { batchedWrites, type BatchWrites } from "./batchWrites.js";
import { lastingStreamErrors } from "./streamErrors.js";

/** The socket, while connected: corked around one turn's batch so it leaves in one write. */
export interface ConnectionStream {
  cork(): void;
  uncork(): void;
  readonly writable: boolean;
}

/** ioredis's statuses: wait (never connected), connecting, connect, ready, close, reconnecting, end. */
export type ConnectionStatus = string;

export interface Connection {
  readonly status: ConnectionStatus;
  readonly stream: ConnectionStream | null | undefined;
  /** Corks the socket around a turn's batch in its stead, and the batch leaves in one write (batchWrites.ts). Absent: the socket is corked, one write per command. */
  readonly batch?: BatchWrites;
  /** Writes the command; its reply (or error) settles it. */
  sendCommand(cmd: ShardisCommand): unknown;
  connect(): Promise<unknown>;
  /** QUIT, then close. */
  quit(): Promise<unknown>;
  /** Closes at once, without reconnecting; `reconnect`: closes and reconnects (with the reconnect backoff). */
  disconnect(reconnect?: boolean): void;
  /** "ready" once usable, "close" when lost, "error" for connection-level errors. */
  /** "end": closed for good, not reconnecting (retryStrategy returned no delay, or disconnect()). */
  on(event: "ready" | "close" | "end", listener: () => void): this;
  on(event: "error", listener: (error: unknown) => void): this;
  /** Lost (or an attempt failed): the next attempt comes after `delay` ms, as ioredis's retryStrategy answered. */
  on(event: "reconnecting", listener: (delay: number) => void): this;
  /** Pub/sub deliveries, binary-safe, on a connection that subscribed. */
  on(event: "messageBuffer" | "smessageBuffer", listener: (channel: Buffer, message: Buffer) => void): this;
  on(event: "pmessageBuffer", listener: (pattern: Buffer, channel: Buffer, message: Buffer) => void): this;
  /** RESP3 invalidation messages (client tracking; see pushes.ts): the keys, or null for all. */
  on(event: "invalidate", listener: (keys: unknown[] | null) => void): this;
}

/** Opens a connection to a node (lazily: nothing happens before connect()). */
export type ConnectionFactory = (address: Address) => Connection;

/** The default: an ioredis Redis per connection, configured so that shardis alone queues and retries. */
export function ioredisConnections(options: Readonly<RedisConnectionOptions>): ConnectionFactory {
  const provider = options.credentials;
  // shardis's own connections: kept off ioredis's tracing channel (untraced.ts), theirs alone for invalidation pushes,
  // every socket listened to for errors its whole life (streamErrors.ts).
  const owned = (redis: Redis): Connection => {
    ownConnection(batchedWrites(untraced(youngCommandQueue(lastingStreamErrors(redis)))));
    if (provider) credentialsOnConnect(redis, provider);
    return redis as unknown as Connection;
  };
  if (!options.db) return (address) => owned(new Redis(connectionOptions(address, options)));
  return (address) => {
    // A connection whose SELECT was refused is dropped once ready (NodeClient), and ioredis restarts its
    // backoff at every ready: the refusals in a row carry it on, or a wrong db would reconnect 20 times a second.
    let refusals = 0;
    let refusedNow = false;
    const redis = new Redis(connectionOptions(address, options, () => refusals));
    redis.on("error", (error: unknown) => void (refusedNow ||= refusedSelect(error) !== undefined));
    redis.on("ready", () => void ((refusals = refusedNow ? refusals + 1 : 0), (refusedNow = false)));
    redis.on("close", () => void (refusedNow = false));
    return owned(redis);
  };
}

