/**
 * `client.options` as an ioredis client has it: a plain, writable object
 * that libraries read (keyPrefix, maxRetriesPerRequest, host, port) and
 * write (bull sets connectionName before CLIENT SETNAME). It is a view made
 * once from the options the client was built with: writing to it changes
 * nothing the client runs with; the client read its options when it was
 * made, and duplicate() starts from those too.
 */
import type { RedisConnectionOptions, ShardedClientOptions } from "../config/types.js";
import { parseAddress } from "../config/address.js";
import { shardisShape } from "../config/resolve.js";

/** Fields of tls.connect() options that are secrets: the private key, its passphrase, a PKCS#12 bundle. */
const TLS_SECRETS = ["key", "passphrase", "pfx"];

/**
 * A copy of `object` whose `secrets` are readable (and writable) by name but
 * not enumerable: util.inspect, JSON.stringify, loggers and Object.keys
 * leave them out (a spread copy does too: read them by name).
 */
export function withHidden<T extends object>(object: T, secrets: readonly string[]): T {
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    Object.defineProperty(copy, key, { value, enumerable: !secrets.includes(key), writable: true, configurable: true });
  }
  return copy as T;
}

/** Connection options as client.options shows them: the password and tls secrets hidden, the tls object copied. */
function connectionView<T extends { tls?: unknown }>(options: T): T {
  const tls = typeof options.tls === "object" && options.tls !== null ? withHidden(options.tls, TLS_SECRETS) : options.tls;
  return withHidden({ ...options, ...(options.tls !== undefined && { tls }) }, ["password"]);
}

/** The first node the client was given (a fixed master, else a cluster seed), as ioredis's host and port. */
function firstNode(input: ShardedClientOptions): { host: string; port: number } | undefined {
  const first = input.shards?.find((shard) => shard.master !== undefined)?.master ?? input.cluster?.seeds?.[0];
  const parsed = first === undefined ? undefined : parseAddress(first);
  return parsed?.ok ? { host: parsed.address.host, port: parsed.address.port } : undefined;
}

/**
 * What `client.options` shows: the client's options, plus the fields
 * libraries read off an ioredis client's: host and port (the first shard's
 * master, or the first cluster seed), keyPrefix, maxRetriesPerRequest, db,
 * connectionName, and username, password and tls as in `redis`. Secrets
 * (passwords, TLS keys and passphrases) stay readable by name but are not
 * enumerable, so nothing that prints the options prints them.
 */
export function ioredisOptions(input: ShardedClientOptions): ShardedClientOptions & IoredisView {
  // URL addresses and ioredis's Sentinel shape read as the client reads them: their host, port, db, credentials.
  const shaped = shardisShape(input);
  const redis = shaped.redis && connectionView(shaped.redis);
  const sentinelOptions = input.sentinelOptions && connectionView(input.sentinelOptions);
  // maxRetriesPerRequest: null (the default) as commands are bounded by their deadline instead.
  const view: Record<string, unknown> = {
    ...firstNode(shaped),
    ...input,
    ...(redis && { redis }),
    ...(sentinelOptions && { sentinelOptions }),
    keyPrefix: shaped.redis?.keyPrefix ?? "",
    maxRetriesPerRequest: shaped.redis?.maxRetriesPerRequest ?? null,
    db: shaped.redis?.db ?? 0,
  };
  for (const field of ["username", "tls", "password", "connectionName"] as const) {
    if (redis?.[field] !== undefined) view[field] = redis[field];
  }
  return withHidden(view, ["password", "sentinelPassword"]) as ShardedClientOptions & IoredisView;
}

/** The ioredis option fields client.options adds to the client's own. */
export interface IoredisView {
  /** The first shard's master (or cluster seed), as ioredis's `host`; absent when Sentinel names the masters. */
  host?: string;
  port?: number;
  keyPrefix: string;
  maxRetriesPerRequest: number | null;
  /** As `redis.db`. */
  db: number;
  /** As `redis.connectionName`. */
  connectionName?: string;
  /** As `redis.username`. */
  username?: string;
  /** As `redis.password`; not enumerable. */
  password?: string;
  /** As `redis.tls`; its key, passphrase and pfx are not enumerable. */
  tls?: RedisConnectionOptions["tls"];
  /** Libraries write fields of their own (bull: connectionName); they change nothing the client runs with. */
  [field: string]: unknown;
}
