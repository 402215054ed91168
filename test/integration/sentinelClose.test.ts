/**
 * Closing the sentinel client while a discovery is in flight (a topology
 * refresh that coincides with quit()) must leave no connection behind: a
 * leaked socket keeps the application's process alive after quit().
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { SentinelClient } from "../../lib/sentinel/SentinelClient.js";
import { AddressPolicy } from "../../lib/topology/addressPolicy.js";
import type { ResolvedShard } from "../../lib/config/shards.js";
import { startHaTopology, type HaTopology } from "../support/sentinel.js";
import { eventually } from "../support/keys.js";

describe("SentinelClient.close() during a discovery", () => {
  let ha: HaTopology;
  let admin: Redis;
  const clientsOn = async () => String(await admin.call("CLIENT", "LIST")).trim().split("\n").length;

  beforeAll(async () => {
    ha = await startHaTopology({ shards: 1, replicasPerShard: 0, sentinels: 1 });
    const sentinel = ha.sentinels[0]!;
    admin = new Redis({ host: "127.0.0.1", port: sentinel.port, enableReadyCheck: false, lazyConnect: true });
    await admin.connect();
  });
  afterAll(async () => {
    admin?.disconnect();
    await ha?.stop();
  });

  it("refuses the queries still running and opens no connection afterwards", async () => {
    const baseline = await clientsOn();
    const errors: Error[] = [];
    const shard = { name: "s0", index: 0, weight: 1, master: undefined, replicas: [], masterName: ha.shards[0]!.masterName } as unknown as ResolvedShard;
    const outcomes: unknown[] = [];
    for (let round = 0; round < 10; round++) {
      const sentinels = new SentinelClient(
        [{ host: "127.0.0.1", port: ha.sentinels[0]!.port }],
        { connectTimeout: 1000, commandTimeoutMs: 1000 },
        [shard],
        new AddressPolicy(undefined, undefined),
        { switched() {}, changed() {}, watching() {}, refused() {}, error: (_sentinel, error) => errors.push(error) },
      );
      // Each discovery is several queries in a row: closing after the first is sent leaves the rest to refuse.
      const discovery = sentinels.discover(ha.shards[0]!.masterName).then(
        (found) => found,
        (error: unknown) => error,
      );
      await new Promise((resolve) => setImmediate(resolve));
      sentinels.close();
      outcomes.push(await discovery);
    }
    // Every discovery ended, as a typed refusal or (if it finished first) an answer.
    for (const outcome of outcomes) {
      if (outcome instanceof Error) expect(outcome).toMatchObject({ code: "ERR_SHARDIS_SENTINEL", message: "the sentinel client is closed" });
      else expect(outcome).toMatchObject({ master: { port: ha.shards[0]!.master.port } });
    }
    expect(outcomes.some((outcome) => outcome instanceof Error)).toBe(true);
    expect(errors).toEqual([]);
    await eventually(async () => expect(await clientsOn()).toBe(baseline), 5000);
  });
});
