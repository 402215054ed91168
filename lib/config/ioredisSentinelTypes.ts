import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import type { RedisConnectionOptions, ShardedClientOptions } from "./types.js";

/**
 * ioredis's own Sentinel options, as `new Redis({ sentinels, name, ... })`
 * takes them: a client of one master, found by its name in Sentinel, with
 * the connection options at the top level. Read as one shard named after
 * the master (docs/ioredis-compatibility.md#sentinel-in-ioredis-shape).
 */
export interface IoredisSentinelOptions extends Omit<ShardedClientOptions, "shards" | "cluster" | "sentinels">, RedisConnectionOptions {
  /** The sentinels; a missing host is localhost, a missing port 26379, as in ioredis. */
  sentinels: Array<{ host?: string; port?: number; family?: number } | string>;
  /** The master's name in Sentinel. */
  name: string;
  /** "slave": reads go to a replica (`readFrom: "replica"`); writes still go to the master. @default "master" */
  role?: "master" | "slave";
  sentinelUsername?: string;
  sentinelPassword?: string;
  /** TLS options for the sentinels, used with enableTLSForSentinelMode. */
  sentinelTLS?: TlsConnectionOptions;
  enableTLSForSentinelMode?: boolean;
  /** Accepted, ignored, and named once in a warning (SHARDIS_IGNORED_OPTION): shardis does these its own way. */
  sentinelRetryStrategy?: (times: number) => number | void | null;
  sentinelReconnectStrategy?: (times: number) => number | void | null;
  preferredSlaves?: unknown;
  updateSentinels?: boolean;
  sentinelMaxConnections?: number;
  failoverDetector?: boolean;
  sentinelCommandTimeout?: number;
  disconnectTimeout?: number;
}
