/**
 * Resolves when `work` settles or after `ms`, whichever comes first. The
 * work goes on; only the wait for it is bounded: a caller's deadline must
 * not stretch because a shared step (a map re-read on a slow node) does.
 */
export async function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))))]);
  clearTimeout(timer);
}
