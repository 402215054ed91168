/**
 * The cache bench's plan, computed alike by the parent (which preloads) and
 * every worker: key names, Zipf(1.0) popularity by rank, which keys expire
 * during the run (every fifth rank: 20%, the hottest key included) and when.
 */
export const keyName = (rank: number) => `item:${rank}`;

export const isExpiring = (rank: number) => rank % 5 === 0;

/** When an expiring key's value expires: spread over the run, from 1 s after the start to 1 s before the end. */
export function expiresAt(rank: number, start: number, seconds: number): number {
  return start + 1000 + (((rank * 7919) % 1000) / 1000) * Math.max(0, seconds * 1000 - 2000);
}

/** Ranks 0..n-1 drawn with probability proportional to 1/(rank+1) (Zipf, s = 1), from a seeded xorshift. */
export function zipfSampler(n: number, seed: number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1);
  let state = (seed * 2654435761 + 1) >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const target = ((state >>> 0) / 4294967296) * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}
