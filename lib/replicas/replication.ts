/**
 * Pure readings of INFO replies, kept apart from the polling so they can be
 * tested on their own.
 */

/** INFO text as fields. */
export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/** A replica in a full sync (receiving or loading its master's dataset) serves nothing useful. */
export function isSyncing(replication: Record<string, string>, persistence: Record<string, string> | undefined): boolean {
  return replication.master_sync_in_progress === "1" || persistence?.loading === "1" || persistence?.async_loading === "1";
}

export interface OffsetSample {
  readonly at: number;
  readonly offset: number;
}

/**
 * How far behind its master a replica is, in ms: the time since the master
 * first had data the replica has not applied (0 when it has everything the
 * master had at the newest sample). Samples are oldest first.
 */
export function lagMs(samples: readonly OffsetSample[], applied: number, now: number): number | undefined {
  const newest = samples[samples.length - 1];
  if (!newest || applied < 0) return undefined;
  if (applied >= newest.offset) return 0;
  const since = samples.find((s) => s.offset > applied) ?? samples[0]!;
  return Math.round(now - since.at);
}
