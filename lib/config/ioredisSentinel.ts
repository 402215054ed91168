/**
 * ioredis's own Sentinel options, `new Redis({ sentinels: [{ host, port }],
 * name, sentinelPassword, role, password, db, ... })`, read as a one-shard
 * shardis Sentinel config: one shard whose masterName is `name` (the shard
 * is named after it), the sentinels as given, `sentinelUsername`,
 * `sentinelPassword` and `sentinelTLS` as `sentinelOptions`, `role: "slave"`
 * as `readFrom: "replica"`, and the connection options ioredis takes at the
 * top level (password, db, tls, ...) under `redis`. Sentinel options that
 * shardis does its own way are accepted and named once in a warning.
 * Options without `name` are returned as they are.
 */
import { warnIgnored } from "./ignoredRedisFields.js";
import { isPlainObject } from "./checks.js";

/** ioredis Sentinel options shardis does its own way, with what it does instead. */
export const IGNORED_SENTINEL_FIELDS: Readonly<Record<string, string>> = {
  sentinelRetryStrategy: "shardis asks the sentinels again with capped, jittered backoff",
  sentinelReconnectStrategy: "shardis reconnects to the sentinels itself",
  preferredSlaves: "replicas are chosen by readFrom and their health and lag (maxReplicaLagMs)",
  updateSentinels: "shardis always learns the other sentinels (SENTINEL SENTINELS)",
  sentinelMaxConnections: "shardis keeps one connection per sentinel",
  failoverDetector: "shardis always listens for +switch-master",
  sentinelCommandTimeout: "sentinel requests are bounded by sentinelOptions.connectTimeout and commandTimeoutMs",
  disconnectTimeout: "quit() and disconnect() close everything themselves",
};

const SENTINEL_SHAPE_FIELDS = ["name", "role", "sentinelUsername", "sentinelPassword", "sentinelTLS", "enableTLSForSentinelMode"];
const SHARD_NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The shardis options for ioredis-shaped Sentinel options (`name` given);
 * `isConnectionField` says which top-level fields are ioredis connection
 * options (they go under `redis`). Never mutates its input.
 */
export function fromIoredisSentinel(input: Record<string, unknown>, isConnectionField: (key: string) => boolean, problems: string[]): Record<string, unknown> {
  if (input.name === undefined) return input;
  if (input.shards !== undefined || input.cluster !== undefined) {
    problems.push("name is ioredis's Sentinel master name, for a client of one master: give it with sentinels and without shards or cluster (or give shards[].masterName)");
    return input;
  }
  const { name, role, sentinelUsername, sentinelPassword, sentinelTLS, enableTLSForSentinelMode, sentinels, redis, sentinelOptions, ...rest } = input;
  if (typeof name !== "string") problems.push(`name must be the master's name in Sentinel (a string)`);
  if (role !== undefined && role !== "master" && role !== "slave") problems.push(`role must be "master" or "slave" (got ${typeof role === "string" ? JSON.stringify(role) : typeof role})`);
  const connection: Record<string, unknown> = isPlainObject(redis) ? { ...redis } : {};
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    if (Object.hasOwn(IGNORED_SENTINEL_FIELDS, key)) {
      if (value !== undefined) warnIgnored(key, "option", IGNORED_SENTINEL_FIELDS[key]);
    } else if (isConnectionField(key)) connection[key] = value;
    else options[key] = value;
  }
  const sentinel: Record<string, unknown> = isPlainObject(sentinelOptions) ? { ...sentinelOptions } : {};
  if (sentinelUsername !== undefined) sentinel.username = sentinelUsername;
  if (sentinelPassword !== undefined) sentinel.password = sentinelPassword;
  // As ioredis: sentinels speak TLS only with enableTLSForSentinelMode, with sentinelTLS's options.
  if (enableTLSForSentinelMode === true) sentinel.tls = sentinelTLS ?? true;
  return {
    ...options,
    shards: [{ name: typeof name === "string" && SHARD_NAME_RE.test(name) ? name : "s0", masterName: name }],
    sentinels: Array.isArray(sentinels) ? sentinels.map(sentinelAddress) : sentinels,
    ...(Object.keys(sentinel).length && { sentinelOptions: sentinel }),
    ...(Object.keys(connection).length && { redis: connection }),
    ...(role === "slave" && options.readFrom === undefined && { readFrom: "replica" }),
  };
}

/** ioredis fills a sentinel's missing host and port: localhost, 26379. */
function sentinelAddress(entry: unknown): unknown {
  if (!isPlainObject(entry)) return entry;
  const { host = "localhost", port = 26379, family: _family, ...rest } = entry;
  return { host, port, ...rest };
}

/** Fields of the ioredis Sentinel shape (for the client's list of options it knows). */
export const IOREDIS_SENTINEL_FIELDS: readonly string[] = [...SENTINEL_SHAPE_FIELDS, ...Object.keys(IGNORED_SENTINEL_FIELDS)];
