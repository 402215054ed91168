/** A set of real redis-servers plus ShardedClients pointed at them, cleaned up together. */
import { afterAll, beforeAll, expect } from "vitest";
import { ShardedClient } from "../../lib/index.js";
import type { ShardedClientOptions } from "../../lib/index.js";
import { startRedisMany, stopAll, type RedisServer, type RedisServerOptions } from "./redis.js";

export interface Fleet {
  readonly servers: RedisServer[];
  /** Shard configs s0..sN-1 for the servers. */
  readonly shards: Array<{ name: string; master: string }>;
  /** A client over the fleet; quit by stop(). */
  client(options?: Partial<ShardedClientOptions>): ShardedClient;
  /** Raw ioredis client of shard i (for assertions that bypass shardis). */
  raw(i: number): ReturnType<RedisServer["client"]>;
  flushAll(): Promise<void>;
  stop(): Promise<void>;
}

export async function startFleet(n: number, serverOptions: RedisServerOptions = {}): Promise<Fleet> {
  const servers = await startRedisMany(n, serverOptions);
  const shards = servers.map((s, i) => ({ name: `s${i}`, master: s.address }));
  const clients: ShardedClient[] = [];
  const raws = servers.map((s) => s.client());
  return {
    servers,
    shards,
    client(options = {}) {
      const client = new ShardedClient({ shards, ...options });
      clients.push(client);
      return client;
    },
    raw: (i) => raws[i]!,
    flushAll: async () => {
      await Promise.all(raws.map((r) => r.flushall()));
    },
    async stop() {
      await Promise.allSettled(clients.map((c) => c.quit()));
      await stopAll(servers);
    },
  };
}

/**
 * Collects unhandled rejections and uncaught exceptions during a test file, so tests can assert there were none
 * (vitest reports both too, but against no test: collected here they fail the file that caused them).
 */
export function watchUnhandled(): { readonly errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const onError = (reason: unknown) => errors.push(reason);
  process.on("unhandledRejection", onError);
  process.on("uncaughtException", onError);
  return {
    errors,
    stop: () => {
      process.off("unhandledRejection", onError);
      process.off("uncaughtException", onError);
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A fleet of n servers and one ready client over it, for a whole test file:
 * started in beforeAll, stopped in afterAll. Read `fleet` and `client` inside tests.
 */
export function fleetWithClient(n: number, options: Partial<ShardedClientOptions> = {}): { readonly fleet: Fleet; readonly client: ShardedClient } {
  const context = {} as { fleet: Fleet; client: ShardedClient };
  beforeAll(async () => {
    context.fleet = await startFleet(n);
    context.client = context.fleet.client(options);
    await context.client.ready();
  });
  afterAll(async () => context.fleet?.stop());
  return context;
}

/**
 * A fleet of n servers for a whole test file (started in beforeAll, stopped
 * in afterAll), which also fails the file on any unhandled rejection. Read
 * `fleet` inside tests.
 */
export function fleetForFile(n: number): { readonly fleet: Fleet } {
  const context = {} as { fleet: Fleet };
  const unhandled = watchUnhandled();
  beforeAll(async () => {
    context.fleet = await startFleet(n);
  });
  afterAll(async () => {
    unhandled.stop();
    await context.fleet?.stop();
    expect(unhandled.errors).toEqual([]);
  });
  return context;
}
