/**
 * Real high-availability topologies for tests: per shard a master and its
 * replicas (redis-server --replicaof), watched by real redis-sentinel
 * processes, all on free loopback ports, started and stopped by the tests.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort, HOST, launch, requireBinary, tempDir, waitForReply, type ManagedProcess } from "./processes.js";
import { parseInfo } from "../../lib/replicas/replication.js";
import { startRedis, stopAll, type RedisServer, type RedisServerOptions } from "./redis.js";
import { clientTls } from "./tls.js";

export interface SentinelProcess {
  readonly port: number;
  readonly address: string;
  client(): Redis;
  /** The last lines the sentinel logged, for a failing test's message. */
  output(): string;
  stop(): Promise<void>;
}

export interface HaShard {
  readonly masterName: string;
  readonly master: RedisServer;
  readonly replicas: RedisServer[];
}

export interface HaTopology {
  readonly shards: HaShard[];
  readonly sentinels: SentinelProcess[];
  /** Every redis-server started (masters and replicas), by address. */
  server(address: string): RedisServer | undefined;
  stop(): Promise<void>;
}

export interface HaOptions {
  shards: number;
  replicasPerShard: number;
  sentinels?: number;
  /** down-after-milliseconds. @default 1000 */
  downAfterMs?: number;
  password?: string;
  sentinelPassword?: string;
  /** TLS only, for the data nodes and the sentinels alike (and between them: replication, sentinel to node). */
  tls?: RedisServerOptions["tls"];
  /** Extra redis-server arguments for every master and replica (e.g. an ACL user). */
  serverArgs?: string[];
}

export async function startHaTopology(options: HaOptions): Promise<HaTopology> {
  requireBinary("redis-sentinel");
  const servers: RedisServer[] = [];
  const sentinels: SentinelProcess[] = [];
  try {
    const shards: HaShard[] = [];
    for (let i = 0; i < options.shards; i++) {
      const auth = [...(options.password ? ["--masterauth", options.password] : []), ...(options.serverArgs ?? [])];
      const master = await startRedis({ password: options.password, args: auth, tls: options.tls });
      servers.push(master);
      const replicas = await Promise.all(
        Array.from({ length: options.replicasPerShard }, () =>
          startRedis({ password: options.password, args: [...auth, "--replicaof", HOST, String(master.port)], tls: options.tls }),
        ),
      );
      servers.push(...replicas);
      shards.push({ masterName: `cache-${i}`, master, replicas });
    }
    await Promise.all(shards.flatMap((s) => s.replicas.map((r) => waitForLink(r, s.master))));
    // Each sentinel is told its peers and the replicas up front (as Sentinel itself records them in its
    // config), so it does not spend ~10 s discovering them through INFO and hello messages.
    const peers = await Promise.all(
      Array.from({ length: options.sentinels ?? 3 }, async () => ({ port: await freePort(), id: randomBytes(20).toString("hex") })),
    );
    for (const self of peers) sentinels.push(await startSentinel(shards, options, self, peers));
    await waitForSentinelsToAgree(sentinels, shards);
    return {
      shards,
      sentinels,
      server: (address) => servers.find((s) => s.address === address),
      async stop() {
        await Promise.all(sentinels.map((s) => s.stop()));
        await stopAll(servers);
      },
    };
  } catch (error) {
    await Promise.all(sentinels.map((s) => s.stop()));
    await stopAll(servers);
    throw error;
  }
}

interface SentinelIdentity {
  readonly port: number;
  readonly id: string;
}

async function startSentinel(
  shards: HaShard[],
  options: HaOptions,
  { port, id }: SentinelIdentity,
  peers: SentinelIdentity[],
): Promise<SentinelProcess> {
  const dir = tempDir(`sentinel-${port}`);
  const files = options.tls?.files;
  const lines = [
    ...(files
      ? [
          "port 0", `tls-port ${port}`, `tls-cert-file ${files.certFile}`, `tls-key-file ${files.keyFile}`, `tls-ca-cert-file ${files.caFile}`,
          `tls-auth-clients ${options.tls!.mutual ? "yes" : "no"}`, "tls-replication yes",
        ]
      : [`port ${port}`]),
    `bind ${HOST}`,
    `dir ${dir.path}`,
    "protected-mode no",
    `sentinel myid ${id}`,
    ...(options.sentinelPassword ? [`requirepass ${options.sentinelPassword}`] : []),
  ];
  for (const shard of shards) {
    lines.push(
      `sentinel monitor ${shard.masterName} ${HOST} ${shard.master.port} 2`,
      `sentinel down-after-milliseconds ${shard.masterName} ${options.downAfterMs ?? 1000}`,
      `sentinel failover-timeout ${shard.masterName} 10000`,
      `sentinel parallel-syncs ${shard.masterName} 1`,
      ...(options.password ? [`sentinel auth-pass ${shard.masterName} ${options.password}`] : []),
      ...shard.replicas.map((r) => `sentinel known-replica ${shard.masterName} ${HOST} ${r.port}`),
      ...peers.filter((p) => p.id !== id).map((p) => `sentinel known-sentinel ${shard.masterName} ${HOST} ${p.port} ${p.id}`),
    );
  }
  const conf = join(dir.path, "sentinel.conf");
  writeFileSync(conf, `${lines.join("\n")}\n`);
  const proc: ManagedProcess = launch("redis-sentinel", [conf], dir.path);
  const ping = options.sentinelPassword ? `AUTH ${options.sentinelPassword}\r\nPING\r\n` : "PING\r\n";
  const tls = files && clientTls(files);
  try {
    await waitForReply(port, ping, /\+PONG/, proc, 5000, tls);
  } catch (error) {
    await proc.stop(100);
    throw error;
  }
  const clients = new Set<Redis>();
  return {
    port,
    address: `${HOST}:${port}`,
    client() {
      const client = new Redis({ host: HOST, port, password: options.sentinelPassword, ...(tls && { tls }) });
      client.on("error", () => undefined);
      clients.add(client);
      return client;
    },
    output: () => proc.output(),
    async stop() {
      for (const client of clients) client.disconnect();
      await proc.stop();
      dir.remove();
    },
  };
}

/**
 * Waits until the replica is linked to its master and has acknowledged
 * everything the master had when the wait began. "master_link_status:up"
 * alone is not enough: after a diskless sync the master streams nothing to
 * the replica until its first REPLCONF ACK, up to a second later, and a
 * WAIT in that second times out.
 */
export async function waitForLink(replica: RedisServer, master: RedisServer, timeoutMs = 10_000): Promise<void> {
  const replicaClient = replica.client();
  const masterClient = master.client();
  try {
    const deadline = Date.now() + timeoutMs;
    let target: number | undefined;
    while (Date.now() < deadline) {
      const own = parseInfo(await replicaClient.info("replication").catch(() => ""));
      if (own.master_link_status === "up") {
        if (target === undefined) {
          // PUBLISH is replicated but stores nothing: it moves the offset the replica must acknowledge.
          await masterClient.publish("__shardis_test__:sync", "");
          target = Number(parseInfo(await masterClient.info("replication")).master_repl_offset);
        }
        await masterClient.call("WAIT", "1000", "100"); // asks every replica for an ACK now
        const info = parseInfo(await masterClient.info("replication"));
        const line = Object.values(info).find((v) => v.startsWith(`ip=${replica.host},port=${replica.port},`));
        const fields = Object.fromEntries((line ?? "").split(",").map((kv) => kv.split("=") as [string, string]));
        if (fields.state === "online" && Number(fields.offset) >= target) return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const seen = await masterClient.info("replication").catch((e: Error) => e.message);
    throw new Error(`replica ${replica.address} did not catch up with ${master.address} within ${timeoutMs} ms: ${seen}`);
  } finally {
    replicaClient.disconnect();
    masterClient.disconnect();
  }
}

/** Waits until every sentinel knows every master's replicas and the other sentinels (failover needs both). */
async function waitForSentinelsToAgree(sentinels: SentinelProcess[], shards: HaShard[], timeoutMs = 20_000): Promise<void> {
  const clients = sentinels.map((s) => s.client());
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      let agreed = true;
      for (const client of clients) {
        for (const shard of shards) {
          const replicas = (await client.call("SENTINEL", "REPLICAS", shard.masterName)) as unknown[][];
          const peers = (await client.call("SENTINEL", "SENTINELS", shard.masterName)) as unknown[];
          // Listed and linked: a replica still flagged disconnected or down would be skipped.
          const linked = replicas.filter((fields) => {
            const flags = String(fields[fields.indexOf("flags") + 1]);
            return !/disconnected|s_down|o_down/.test(flags);
          });
          if (linked.length < shard.replicas.length || peers.length < sentinels.length - 1) agreed = false;
        }
      }
      if (agreed) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error("sentinels did not discover every replica and peer in time");
  } finally {
    for (const client of clients) client.disconnect();
  }
}
