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

/**
 * ready()'s wait for a client whose short command deadline is what its test checks: ready() waits
 * commandTimeoutMs by default, and on a loaded machine connecting alone can take longer than 300 ms.
 */
export const READY_MS = 10_000;

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

/** Resolves once the server counts at least n clients blocked (BLPOP, XREAD BLOCK, ...): the command is waiting there. */
export async function untilBlocked(info: () => Promise<string>, n = 1): Promise<void> {
  await eventually(async () => {
    const blocked = Number(/blocked_clients:(\d+)/.exec(await info())![1]);
    if (blocked < n) throw new Error(`${blocked} blocked clients, waiting for ${n}`);
  });
}
