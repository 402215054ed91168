/**
 * ioredis's own Sentinel options, `{ sentinels: [{ host, port }], name,
 * sentinelPassword, password, role, ... }`, given to `new ShardedClient` as
 * they are: a one-shard Sentinel client, beside a real ioredis client built
 * from the same options, against real redis-server and redis-sentinel
 * processes. Both reach the master and both follow a failover.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { ConfigError, ShardedClient } from "../../lib/index.js";
import { startHaTopology, type HaTopology } from "../support/sentinel.js";
import { eventually } from "../support/keys.js";
import { watchUnhandled } from "../support/fleet.js";

describe("ioredis's Sentinel options", () => {
  let ha: HaTopology;
  const unhandled = watchUnhandled();
  const closing: Array<{ quit(): Promise<unknown> }> = [];

  /** The options an ioredis user has, verbatim. */
  const ioredisOptions = () => ({
    sentinels: ha.sentinels.map((s) => ({ host: "127.0.0.1", port: s.port })),
    name: ha.shards[0]!.masterName,
    password: "data-secret",
    sentinelPassword: "sentinel-secret",
    db: 1,
  });

  beforeAll(async () => {
    ha = await startHaTopology({ shards: 1, replicasPerShard: 1, sentinels: 2, password: "data-secret", sentinelPassword: "sentinel-secret" });
  });
  afterAll(async () => {
    await Promise.all(closing.map((c) => c.quit().catch(() => undefined)));
    unhandled.stop();
    await ha?.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("reach the master and follow a failover, as ioredis does", async () => {
    const ioredis = new Redis(ioredisOptions());
    ioredis.on("error", () => undefined);
    closing.push(ioredis);
    const client = new ShardedClient(ioredisOptions());
    closing.push(client);
    const master = ha.shards[0]!.master;
    const replica = ha.shards[0]!.replicas[0]!;

    expect(await ioredis.set("i", "1")).toBe("OK");
    expect(await client.set("s", "1")).toBe("OK");
    const onMaster = master.client();
    await onMaster.select(1);
    expect(await onMaster.mget("i", "s")).toEqual(["1", "1"]);
    expect(client.topology().shards[0]!.master!.address).toBe(master.address);

    await ha.sentinels[0]!.client().call("SENTINEL", "FAILOVER", ha.shards[0]!.masterName);
    await eventually(async () => expect(client.topology().shards[0]!.master!.address).toBe(replica.address), 30_000);
    const onNew = replica.client();
    await onNew.select(1);
    // Each client's write lands on the new master once it has followed the failover (one sent just before may land on the old one).
    await eventually(async () => {
      await Promise.all([ioredis.set("i", "2"), client.set("s", "2")]);
      expect(await onNew.mget("i", "s")).toEqual(["2", "2"]);
    }, 30_000);
  }, 60_000);

  it("maps role \"slave\" to reads from a replica, keeps sentinelPassword out of what prints, refuses a name beside shards", async () => {
    const client = new ShardedClient({ ...ioredisOptions(), role: "slave" });
    closing.push(client);
    await client.ready();
    expect(await client.set("r", "1")).toBe("OK");
    const replicaAddress = await eventually(async () => client.topology().shards[0]!.replicas[0]!.address, 30_000);
    const replica = ha.server(replicaAddress)!;
    const gets = async () => Number(/cmdstat_get:calls=(\d+)/.exec(await replica.client().info("commandstats"))?.[1] ?? 0);
    const before = await gets();
    await eventually(async () => expect(await client.get("r")).toBe("1"));
    expect(await gets()).toBeGreaterThan(before);
    expect(client.options.sentinelPassword).toBe("sentinel-secret");
    expect(client.options.db).toBe(1);
    expect(JSON.stringify(client.options)).not.toContain("secret");
    expect(() => new ShardedClient({ ...ioredisOptions(), shards: [{ name: "s0", masterName: "x" }] } as never)).toThrow(ConfigError);
    expect(() => new ShardedClient({ ...ioredisOptions(), shards: [{ name: "s0", masterName: "x" }] } as never)).toThrow(/name is ioredis's Sentinel master name/);
  });
});
