/**
 * A fixed-bucket histogram cheap enough for every command: one short scan
 * over the bounds and two additions per observation. Counts are kept per
 * bucket (not cumulative); exporters make them cumulative when read.
 */
export class Histogram {
  /** counts[i] observations <= bounds[i] and > bounds[i-1]; the last slot is everything above. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  copy(): Histogram {
    const copy = new Histogram(this.bounds);
    copy.merge(this);
    return copy;
  }

  /** Adds another histogram's figures (same bounds) into this one. */
  merge(other: Histogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.sum += other.sum;
    this.count += other.count;
  }

  /** Cumulative counts per bound, then +Inf: the Prometheus `_bucket` series. */
  cumulative(): number[] {
    const out: number[] = [];
    let running = 0;
    for (const c of this.counts) out.push((running += c));
    return out;
  }

  /**
   * The q-quantile (0..1), interpolated linearly inside its bucket as
   * Prometheus's histogram_quantile does; null when empty. Above the last
   * bound it answers the last bound.
   */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = q * this.count;
    let below = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const inBucket = this.counts[i]!;
      if (below + inBucket >= rank && inBucket > 0) {
        if (i === this.bounds.length) return this.bounds[i - 1] ?? 0;
        const lower = i === 0 ? 0 : this.bounds[i - 1]!;
        return lower + (this.bounds[i]! - lower) * ((rank - below) / inBucket);
      }
      below += inBucket;
    }
    return this.bounds[this.bounds.length - 1] ?? 0;
  }
}
