/**
 * Reconnect delay for the n-th attempt (1-based): exponential, capped, with
 * "equal jitter" (half fixed, half random) so a restarted node is not hit by
 * every client at the same instant, yet no client retries immediately.
 */
export function reconnectDelay(
  attempt: number,
  { baseDelayMs, maxDelayMs }: { baseDelayMs: number; maxDelayMs: number },
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
