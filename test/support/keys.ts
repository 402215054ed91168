import type { ShardedClient } from "../../lib/index.js";

/** The first n keys `${prefix}:${i}` that the client places on the given shard. */
export function keysOn(client: ShardedClient, shard: string, n: number, prefix = "key"): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < n; i++) if (client.shardOf(`${prefix}:${i}`) === shard) keys.push(`${prefix}:${i}`);
  return keys;
}

/** One key per shard name. */
export function keyOn(client: ShardedClient, shard: string, prefix = "key"): string {
  return keysOn(client, shard, 1, prefix)[0]!;
}

/** The server's count of socket reads; a batch that arrived in one write costs one read. */
export async function readsProcessed(info: () => Promise<string>): Promise<number> {
  return Number(/total_reads_processed:(\d+)/.exec(await info())![1]);
}

/** Polls fn until it resolves, for at most timeoutMs. */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
