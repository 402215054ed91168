/**
 * Sentinel-managed shards: discovery, reads from replicas, read-your-writes,
 * a write concern, and the topology snapshot.
 *
 *   SENTINELS=127.0.0.1:26379 MASTERS=cache-0,cache-1 ALLOWED="127.0.0.1:*" npx tsx examples/high-availability.ts
 *   npx tsx examples/local.ts high-availability   # starts 2 shards (master + replica) and 3 sentinels for it
 */
import { NoReplicaAvailableError, ShardedClient, WriteConcernError } from "shardis";

async function main(): Promise<void> {
  const sentinels = process.env.SENTINELS?.split(",").filter(Boolean) ?? [];
  const masters = process.env.MASTERS?.split(",").filter(Boolean) ?? [];
  if (!sentinels.length || !masters.length) {
    throw new Error("set SENTINELS=host:port,... and MASTERS=name,... (or run: npx tsx examples/local.ts high-availability)");
  }
  // Every address a sentinel may send the client to, sentinels included (they are learned from each other).
  const allowedAddresses = process.env.ALLOWED?.split(",").filter(Boolean);

  const client = new ShardedClient({
    sentinels,
    shards: masters.map((masterName, i) => ({ name: `s${i}`, masterName })),
    readFrom: "replicaPreferred", // reads go to a caught-up replica, else the master
    maxReplicaLagMs: 1000,
    ...(allowedAddresses ? { allowedAddresses } : {}),
  });
  client.on("failover", ({ shard, from, to }) => console.log(`failover: ${shard} ${from} -> ${to}`));

  try {
    await client.ready(); // every shard's master is known
    for (const shard of client.topology().shards) {
      console.log(`${shard.name}: master ${shard.master?.address}, replicas ${shard.replicas.map((r) => r.address).join(", ")}`);
    }

    // A write waits for one replica (WAIT 1 500; it returns as soon as the replica confirms):
    // acknowledged writes survive a failover.
    await client.with({ writeConcern: { replicas: 1, timeoutMs: 500 } }).set("user:1", "ada");
    console.log("write acknowledged by a replica");

    // Read your own write from the master; later reads may come from a replica.
    console.log(`from the master: ${await client.readFrom("master").get("user:1")}`);
    await waitUntilReadable(client);
    console.log(`from a replica: ${await client.readFrom("replica").get("user:1")}`);

    // Asking for more replicas than exist: applied on the master, but reported.
    try {
      await client.with({ writeConcern: { replicas: 2, timeoutMs: 20 } }).set("user:2", "grace");
    } catch (error) {
      if (!(error instanceof WriteConcernError)) throw error;
      console.log(`${error.code}: ${error.acknowledged} of ${error.required} replicas, reply ${String(error.reply)}`);
    }

    const snapshot = client.topology();
    const replica = snapshot.shards[0]!.replicas[0]!;
    console.log(`epoch ${snapshot.epoch}; s0 replica lag ${replica.lagMs} ms, readable ${replica.readable}`);
  } finally {
    await client.quit();
  }
}

/** Replica health is measured every healthCheckIntervalMs; wait (bounded) for the first figures. */
async function waitUntilReadable(client: ShardedClient): Promise<void> {
  const until = performance.now() + 5000;
  while (!client.topology().shards.every((s) => s.replicas.some((r) => r.readable))) {
    if (performance.now() > until) throw new NoReplicaAvailableError("any", "no replica became readable within 5 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
