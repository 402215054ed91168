/** Per-shard counters for the demo: operations, errors and latencies of the last interval. */
export class ShardStats {
  ops = 0;
  errors = 0;
  private latencies: number[] = [];

  record(ms: number, ok: boolean): void {
    this.ops++;
    if (!ok) this.errors++;
    if (this.latencies.length < 200_000) this.latencies.push(ms);
  }

  /** Returns and resets the interval's figures. */
  take(): { ops: number; errors: number; p50: number; p99: number } {
    const sorted = this.latencies.sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;
    const result = { ops: this.ops, errors: this.errors, p50: at(0.5), p99: at(0.99) };
    this.ops = 0;
    this.errors = 0;
    this.latencies = [];
    return result;
  }
}
