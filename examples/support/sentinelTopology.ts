import { startHaTopology } from "../../test/support/sentinel.js";

export interface SentinelTopology {
  readonly sentinels: string[];
  readonly masters: string[];
  /** Stops what was started here (nothing, for a topology given by the environment). */
  stop(): Promise<void>;
}

/**
 * The topology an example runs against: SENTINELS=host:port,... and
 * MASTERS=name,... when set, else 2 shards (master + replica) and 3
 * sentinels started locally for the example.
 */
export async function sentinelTopology(): Promise<SentinelTopology> {
  const sentinels = process.env.SENTINELS?.split(",").filter(Boolean) ?? [];
  const masters = process.env.MASTERS?.split(",").filter(Boolean) ?? [];
  if (sentinels.length > 0) return { sentinels, masters, stop: async () => undefined };
  const ha = await startHaTopology({ shards: 2, replicasPerShard: 1, sentinels: 3 });
  return {
    sentinels: ha.sentinels.map((s) => s.address),
    masters: ha.shards.map((s) => s.masterName),
    stop: () => ha.stop(),
  };
}
