/**
 * Beyond GET/SET: pipelines, transactions, optimistic locking, Lua scripts,
 * blocking pops, pub/sub and scans, on a sharded fleet.
 *
 *   SHARDS=127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 npx tsx examples/cross-shard.ts
 *   npx tsx examples/local.ts cross-shard     # starts 3 local redis-servers for it
 */
import { ShardedClient } from "shardis";

// defineCommand adds a method at run time; TypeScript learns it by interface merging.
declare module "shardis" {
  interface ShardedClient {
    claim(key: string, owner: string, ttlSeconds: number): Promise<number>;
  }
}

async function main(): Promise<void> {
  const addresses = process.env.SHARDS?.split(",").filter(Boolean) ?? [];
  if (addresses.length === 0) throw new Error("set SHARDS=host:port,host:port,... (or run: npx tsx examples/local.ts cross-shard)");
  const client = new ShardedClient({ shards: addresses.map((master, i) => ({ name: `s${i}`, master })) });

  try {
    // Pipeline: any keys; each shard's share leaves in one write; results in your order.
    const results = await client.pipeline().set("user:1", "ada").set("user:3", "grace").mget("user:1", "user:3").incr("hits").exec();
    console.log("pipeline:", JSON.stringify(results));

    // Transaction: atomic on one shard, so its keys share a hash tag.
    const tx = await client.multi().hset("{order:7}", "status", "paid").rpush("{order:7}:log", "paid").exec();
    console.log("multi:", JSON.stringify(tx));

    // Optimistic locking on a dedicated connection borrowed from that shard's pool.
    await client.set("{acct:1}:balance", "100");
    const debit = await client.withConnection("{acct:1}:balance", async (conn) => {
      await conn.watch("{acct:1}:balance");
      const balance = Number(await conn.get("{acct:1}:balance"));
      return conn.multi().set("{acct:1}:balance", String(balance - 25)).exec(); // null if someone changed it
    });
    console.log("debit:", JSON.stringify(debit), "balance now", await client.get("{acct:1}:balance"));

    // Lua: EVALSHA, falling back to EVAL wherever the script is not cached.
    client.defineCommand("claim", {
      numberOfKeys: 1,
      lua: "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 else return 0 end",
    });
    console.log("claim:", await client.claim("lock:report", "worker-1", 30), await client.claim("lock:report", "worker-2", 30));

    // Blocking pop: runs on a pooled connection, so nothing else waits for it.
    setTimeout(() => void client.lpush("jobs", "job-42"), 100);
    console.log("brpop:", await client.brpop("jobs", 2));

    // Pub/sub: a channel lives on the shard its name hashes to.
    const received = new Promise<string>((resolve) => void client.subscribe("news", { handler: (message) => resolve(message) }));
    await new Promise((r) => setTimeout(r, 50));
    await client.publish("news", "hello, shards");
    console.log("message:", await received);

    // Scan every shard.
    let count = 0;
    for await (const keys of client.scanStream({ count: 100 })) count += (keys as string[]).length;
    console.log("keys across shards:", count, "per shard:", await client.forEachShard((_, shard) => shard.dbsize()));
  } finally {
    await client.quit();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
