/** A real Redis Cluster of n masters (no replicas), created with redis-cli --cluster create. */
import { spawnSync } from "node:child_process";
import { requireBinary } from "./processes.js";
import { startRedisMany, stopAll, type RedisServer } from "./redis.js";

export interface RedisClusterHandle {
  readonly masters: RedisServer[];
  stop(): Promise<void>;
}

export async function startRedisCluster(masters: number): Promise<RedisClusterHandle> {
  requireBinary("redis-cli");
  const servers = await startRedisMany(masters, { cluster: true });
  try {
    const created = spawnSync(
      "redis-cli",
      ["--cluster", "create", ...servers.map((s) => s.address), "--cluster-replicas", "0", "--cluster-yes"],
      { encoding: "utf8", timeout: 60_000 },
    );
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${created.stdout}\n${created.stderr}`);
    await waitForClusterOk(servers);
  } catch (error) {
    await stopAll(servers);
    throw error;
  }
  return { masters: servers, stop: () => stopAll(servers) };
}

async function waitForClusterOk(servers: RedisServer[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const clients = servers.map((s) => s.client());
  try {
    while (Date.now() < deadline) {
      const infos = await Promise.all(clients.map((c) => c.cluster("INFO") as Promise<string>));
      if (infos.every((info) => info.includes("cluster_state:ok"))) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`cluster did not reach cluster_state:ok within ${timeoutMs} ms`);
  } finally {
    for (const c of clients) c.disconnect();
  }
}
