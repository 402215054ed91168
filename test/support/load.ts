/**
 * Open-loop load for fault tests: every tick, a fixed number of commands per
 * shard, whether or not earlier ones finished (as requests arrive in a real
 * service), so a sick shard cannot slow the load on the others. Every
 * command's start, end and outcome is recorded.
 */
import type { ShardedClient } from "../../lib/index.js";

export interface Op {
  readonly shard: string;
  readonly start: number;
  end: number | undefined;
  error: Error | undefined;
}

export class SteadyLoad {
  readonly ops: Op[] = [];
  private timer: NodeJS.Timeout | undefined;
  private tick = 0;

  constructor(
    private readonly client: ShardedClient,
    private readonly keys: Record<string, string[]>,
    private readonly perTick = 2,
    private readonly tickMs = 2,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.fire(), this.tickMs);
  }

  /** Stops issuing and waits (at most maxWaitMs) for what was issued to settle. */
  async stop(maxWaitMs = 5000): Promise<void> {
    clearInterval(this.timer);
    const deadline = Date.now() + maxWaitMs;
    while (this.pending().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  pending(): Op[] {
    return this.ops.filter((op) => op.end === undefined);
  }

  /** Latencies (ms) of successful commands on a shard that started in [from, to). */
  latencies(shard: string, from: number, to: number): number[] {
    return this.ops
      .filter((op) => op.shard === shard && op.start >= from && op.start < to && op.end !== undefined && !op.error)
      .map((op) => op.end! - op.start);
  }

  private fire(): void {
    this.tick++;
    for (const [shard, keys] of Object.entries(this.keys)) {
      for (let i = 0; i < this.perTick; i++) {
        const key = keys[(this.tick * this.perTick + i) % keys.length]!;
        const op: Op = { shard, start: performance.now(), end: undefined, error: undefined };
        this.ops.push(op);
        const isSet = i % 2 === 1;
        const reply = isSet ? this.client.set(key, "v") : this.client.get(key);
        reply.then(
          (value) => {
            op.end = performance.now();
            // A reply meant for another command would mean the connection lost its place.
            const expected = isSet ? value === "OK" : value === "v" || value === null;
            if (!expected) op.error = new Error(`wrong reply ${JSON.stringify(value)} to ${isSet ? "SET" : "GET"}`);
          },
          (error: Error) => {
            op.end = performance.now();
            op.error = error;
          },
        );
      }
    }
  }
}

export function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

/** Counts of the process's active handles by type (sockets, timers, ...). */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}
