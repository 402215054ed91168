/**
 * The demos' workload: one operation at a time per worker, mixed as a cache
 * sees it, over a fixed key space, from a per-worker random sequence.
 */
import type { ShardedClient } from "shardis";

/** What a worker reports after each operation: the key's shard, how long it took, and what it failed with. */
export type OpReport = (op: DemoOp, shard: string, ms: number, error: unknown) => void;

/** Starts `inflight` workers, each running one operation at a time until stopped. */
export function startWorkers(client: ShardedClient, options: { inflight: number; keys: number; valueBytes: number }, record: OpReport) {
  const value = "x".repeat(options.valueBytes);
  let running = true;
  const worker = async (seed: number) => {
    const random = xorshift(seed);
    while (running) {
      const op = nextOp(random, options.keys);
      const shard = client.shardOf(op.key);
      const begin = performance.now();
      let failure: unknown;
      try {
        await op.run(client, value);
      } catch (error) {
        failure = error ?? new Error("rejected without a reason");
      }
      record(op, shard, performance.now() - begin, failure);
      // Failed fast: a breath, so a dead master does not turn the loop into a spin.
      if (failure) await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };
  const workers = Array.from({ length: options.inflight }, (_, i) => worker(i + 1));
  return {
    /** Stops the workers once their current operation is done. */
    async stop(): Promise<void> {
      running = false;
      await Promise.all(workers);
    },
  };
}

export const MIX = "GET 50%, SET 25%, HINCRBY 10%, MGET of 4 keys 10%, DEL 5%";

/** xorshift32: cheap, and its low bits are as random as its high ones (unlike an LCG's). */
export function xorshift(seed: number): () => number {
  let state = seed * 2654435761 + 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}

export interface DemoOp {
  /** The key the operation is about: its shard is where its latency counts. */
  readonly key: string;
  /** A SET of that key (what a failover's "first write" looks for). */
  readonly setsKey: boolean;
  run(client: ShardedClient, value: string): Promise<unknown>;
}

/** The next operation of the mix, over keys demo:0 .. demo:(keys - 1). */
export function nextOp(random: () => number, keys: number): DemoOp {
  const n = random();
  const key = `demo:${n % keys}`;
  const roll = random() % 100;
  if (roll < 50) return { key, setsKey: false, run: (c) => c.get(key) };
  if (roll < 75) return { key, setsKey: true, run: (c, value) => c.set(key, value, "EX", 60) };
  if (roll < 85) return { key, setsKey: false, run: (c) => c.hincrby(`demo:h:${n % 1000}`, "hits", 1) };
  if (roll < 95) return { key, setsKey: false, run: (c) => c.mget(key, `demo:${(n + 1) % keys}`, `demo:${(n + 2) % keys}`, `demo:${(n + 3) % keys}`) };
  return { key, setsKey: false, run: (c) => c.del(key) };
}
