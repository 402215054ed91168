/**
 * The basics: placement, typed commands, multi-key commands across shards,
 * and keyless commands on one shard.
 *
 *   SHARDS=127.0.0.1:7000,127.0.0.1:7001 npx tsx examples/quickstart.ts
 *   npx tsx examples/local.ts quickstart     # starts 3 local redis-servers for it
 */
import { CrossShardError, ShardedClient, keySlot } from "shardis";

async function main(): Promise<void> {
  const addresses = process.env.SHARDS?.split(",").filter(Boolean) ?? [];
  if (addresses.length === 0) throw new Error("set SHARDS=host:port,host:port,... (or run: npx tsx examples/local.ts quickstart)");

  const client = new ShardedClient({
    shards: addresses.map((master, i) => ({ name: `s${i}`, master })),
    sharding: { strategy: "slots" }, // or { strategy: "ketama" }
  });

  try {
    // Each key goes to the shard that owns its slot.
    for (const key of ["user:1", "user:3", "{cart:7}:items", "{cart:7}:total"]) {
      console.log(`${key.padEnd(16)} slot ${String(keySlot(key)).padStart(5)} -> ${client.shardOf(key)}`);
    }

    await client.set("user:1", "ada", "EX", 60);
    console.log("GET user:1 =", await client.get("user:1"));
    await client.hset("{cart:7}:items", { apple: "3", pear: "1" });
    console.log("HGETALL {cart:7}:items =", await client.hgetall("{cart:7}:items"));

    // Multi-key commands are split per shard and reassembled in your order.
    await client.mset({ "user:1": "ada", "user:2": "grace", "user:3": "barbara" });
    console.log("MGET =", await client.mget("user:3", "user:1", "user:404", "user:2"));
    console.log("DEL count =", await client.del("user:1", "user:2", "user:3"));

    // Other multi-key commands must stay on one shard (user:1 and user:3 are not): use a hash tag.
    try {
      await client.rename("user:1", "user:3");
    } catch (error) {
      if (!(error instanceof CrossShardError)) throw error;
      console.log("refused:", error.message);
    }
    console.log("RENAME within a tag =", await client.rename("{cart:7}:items", "{cart:7}:old"));

    // Keyless commands go to a shard you name.
    for (const name of ["s0", "s1", "s2"].slice(0, addresses.length)) {
      console.log(`${name} PING = ${await client.shard(name).ping()}, DBSIZE = ${await client.shard(name).dbsize()}`);
    }
  } finally {
    await client.quit();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
