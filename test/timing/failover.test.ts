/**
 * Timing budget, run alone (npm run test:timing): after Sentinel announces a
 * new master (+switch-master), writes to the shard succeed again within
 * 200 ms. Measured from the announcement as an independent subscriber sees
 * it, under steady writes, on a topology of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardedClient } from "../../lib/index.js";
import { killMasterUnderWrites } from "../support/failover.js";
import { keyOn } from "../support/keys.js";
import { startHaTopology, type HaTopology } from "../support/sentinel.js";

describe("failover timing", () => {
  let ha: HaTopology;
  let client: ShardedClient;

  beforeAll(async () => {
    ha = await startHaTopology({ shards: 2, replicasPerShard: 1, sentinels: 3 });
    client = new ShardedClient({
      sentinels: ha.sentinels.map((s) => s.address),
      shards: ha.shards.map((s, i) => ({ name: `s${i}`, masterName: s.masterName })),
    });
    await client.ready();
  });
  afterAll(async () => {
    await client?.quit();
    await ha?.stop();
  });

  it("writes succeed again within 200 ms of +switch-master", async () => {
    const run = await killMasterUnderWrites(ha, client, 1, keyOn(client, "s1", "failover"));
    console.info(`[failover] kill -> +switch-master ${Math.round(run.switchedAt - run.killedAt)} ms, -> first write ${Math.round(run.firstWriteMs)} ms`);
    expect(run.firstWriteMs).toBeLessThanOrEqual(200);
  }, 60_000);
});
