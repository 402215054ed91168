/**
 * Successes and failures over a sliding time window, in fixed buckets.
 * Adding a batch's outcome is O(1) with no allocation, which is what lets
 * the breaker weigh every command without a per-command cost.
 */
export class RollingCounts {
  private readonly successes: Float64Array;
  private readonly failures: Float64Array;
  private readonly bucketMs: number;
  private current = 0;
  private currentStart = 0;

  constructor(
    readonly windowMs: number,
    buckets: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.successes = new Float64Array(buckets);
    this.failures = new Float64Array(buckets);
    this.bucketMs = windowMs / buckets;
    this.currentStart = this.now();
  }

  add(successes: number, failures: number): void {
    this.rotate();
    this.successes[this.current]! += successes;
    this.failures[this.current]! += failures;
  }

  /** Totals over the window. */
  totals(): { successes: number; failures: number } {
    this.rotate();
    let successes = 0;
    let failures = 0;
    for (let i = 0; i < this.successes.length; i++) {
      successes += this.successes[i]!;
      failures += this.failures[i]!;
    }
    return { successes, failures };
  }

  reset(): void {
    this.successes.fill(0);
    this.failures.fill(0);
  }

  /** Moves to the bucket for now, clearing the ones skipped over. */
  private rotate(): void {
    const elapsed = this.now() - this.currentStart;
    if (elapsed < this.bucketMs) return;
    const steps = Math.min(Math.floor(elapsed / this.bucketMs), this.successes.length);
    for (let i = 0; i < steps; i++) {
      this.current = (this.current + 1) % this.successes.length;
      this.successes[this.current] = 0;
      this.failures[this.current] = 0;
    }
    this.currentStart += Math.floor(elapsed / this.bucketMs) * this.bucketMs;
  }
}
