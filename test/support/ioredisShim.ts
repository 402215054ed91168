/**
 * The compatibility matrix's drop-in: `new Redis(port, host, options)`
 * answered by a ShardedClient of one shard (that server), ioredis options
 * shardis accepts passed on under `redis` (lazyConnect at the top), the rest
 * dropped and named in `dropped`, as a user swapping the client would.
 */
import { ShardedClient } from "../../lib/index.js";
import { REDIS_FIELDS } from "../../lib/config/resolve.js";

export interface Shimmed {
  readonly client: ShardedClient;
  /** ioredis options the shim could not pass on. */
  readonly dropped: string[];
}

export function shimRedis(port: number, host: string, options: Record<string, unknown> = {}, shards?: Array<{ name: string; master: string }>): Shimmed {
  const redis: Record<string, unknown> = {};
  const dropped: string[] = [];
  for (const [field, value] of Object.entries(options)) {
    if (field === "lazyConnect") continue;
    if (field in REDIS_FIELDS) redis[field] = value;
    else dropped.push(field);
  }
  const client = new ShardedClient({
    shards: shards ?? [{ name: "s0", master: `${host}:${port}` }],
    redis,
    ...(options.lazyConnect !== undefined && { lazyConnect: options.lazyConnect as boolean }),
  });
  return { client, dropped };
}
