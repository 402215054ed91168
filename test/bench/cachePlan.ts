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

export { zipfSampler } from "../support/zipf.js";
