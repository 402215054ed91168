/**
 * Local servers for the examples and the demo. The examples import only
 * "shardis" and public packages and read where Redis is from the
 * environment, so they copy into an app as they are; this helper starts what
 * one needs on free loopback ports, runs it, and stops everything after:
 *
 *   npx tsx examples/local.ts quickstart          # 3 redis-servers, SHARDS=...
 *   npx tsx examples/local.ts high-availability   # 2 shards (master + replica), 3 sentinels, SENTINELS=... MASTERS=...
 *
 * It needs redis-server and redis-sentinel on PATH (installed with apt-get
 * when missing and run as root on Debian).
 */
import { spawn } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ensureServers } from "../test/support/install.js";
import { startRedisMany, stopAll } from "../test/support/redis.js";
import { startHaTopology, type HaTopology } from "../test/support/sentinel.js";
import { startRedisCluster } from "../test/support/cluster.js";
import type { RedisServer } from "../test/support/redis.js";

export { ensureServers, startHaTopology, startRedisCluster, startRedisMany, stopAll, type HaTopology, type RedisServer };

/** What each example needs: plain shards, or shards behind sentinels. */
const NEEDS: Record<string, "shards" | "sentinels"> = {
  quickstart: "shards",
  "cross-shard": "shards",
  grow: "shards",
  tracing: "shards",
  "high-availability": "sentinels",
  "metrics-server": "sentinels",
};

/** Starts what `example` needs; returns the environment that tells the example where it is, and a stop. */
export async function localServers(example: string): Promise<{ env: Record<string, string>; stop(): Promise<void> }> {
  ensureServers();
  if (NEEDS[example] === "shards") {
    // grow adds a fourth shard at run time.
    const servers = await startRedisMany(example === "grow" ? 4 : 3);
    return { env: { SHARDS: servers.map((s) => s.address).join(",") }, stop: () => stopAll(servers) };
  }
  const ha = await startHaTopology({ shards: 2, replicasPerShard: 1, sentinels: 3 });
  return {
    env: {
      SENTINELS: ha.sentinels.map((s) => s.address).join(","),
      MASTERS: ha.shards.map((s) => s.masterName).join(","),
      // Sentinels and data nodes all listen on loopback here.
      ALLOWED: "127.0.0.1:*",
    },
    stop: () => ha.stop(),
  };
}

async function main(): Promise<number> {
  const example = process.argv[2] ?? "";
  if (!NEEDS[example]) {
    process.stderr.write(`usage: npx tsx examples/local.ts <${Object.keys(NEEDS).join(" | ")}>\n`);
    return 2;
  }
  const servers = await localServers(example);
  try {
    const file = fileURLToPath(new URL(`./${example}.ts`, import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", file, ...process.argv.slice(3)], {
      env: { ...process.env, ...servers.env },
      stdio: "inherit",
    });
    return await new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
  } finally {
    await servers.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
