/**
 * The cache's time decisions, pure so they can be tested with a seeded
 * random source: each write's TTL with jitter, and XFetch's early refresh.
 */

/** ttlMs * (1 ± up to jitter): keys written together do not expire together. */
export function jitteredTtl(ttlMs: number, jitter: number, random: () => number): number {
  return Math.max(1, Math.round(ttlMs * (1 + jitter * (2 * random() - 1))));
}

/**
 * XFetch (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache
 * Stampede Prevention", VLDB 2015): refresh a value before it expires when
 * now - loadMs * beta * ln(u) >= expiresAt, u uniform in (0, 1]. The longer
 * the last load took, and the closer the expiry, the likelier; a burst of
 * readers starts about one refresh, not one each.
 */
export function refreshEarly(now: number, expiresAt: number, loadMs: number, beta: number, random: () => number): boolean {
  if (beta <= 0 || loadMs <= 0) return false;
  // Beyond 40 load-times of beta the odds are below e^-40: not worth a random draw on every hit.
  if (expiresAt - now > 40 * loadMs * beta) return false;
  // 1 - random() is in (0, 1]: ln never sees 0.
  return now - loadMs * beta * Math.log(1 - random()) >= expiresAt;
}
