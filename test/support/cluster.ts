/**
 * Real Redis Clusters for tests and the demo: cluster-enabled redis-server
 * processes on free loopback ports, joined with `redis-cli --cluster create`
 * (masters, and replicas when asked), and the operations a cluster's
 * operator runs: add a master, move slots (`reshard`, `rebalance`), and the
 * manual slot migration protocol, step by step, for MOVED and ASK. redis-cli
 * runs as a child process (not spawnSync), so a load can run meanwhile.
 */
import { spawn } from "node:child_process";
import type { Redis } from "ioredis";
import { requireBinary } from "./processes.js";
import { startRedisMany, stopAll, type RedisServer, type RedisServerOptions } from "./redis.js";
import type { TlsFiles } from "./tls.js";

export interface ClusterOptions {
  /** Replicas per master. @default 0 */
  replicas?: number;
  /** cluster-node-timeout, in ms: how soon a dead master is failed over. @default 2000 */
  nodeTimeoutMs?: number;
  /** TLS only (`--port 0`, `tls-cluster yes`: the bus too); redis-cli is given the same certificates. */
  tls?: RedisServerOptions["tls"];
  /**
   * Each node announces this hostname (cluster-announce-hostname) and the
   * cluster prefers hostnames in its replies and redirects
   * (cluster-preferred-endpoint-type hostname), as managed services do.
   */
  hostname?: (server: RedisServer) => string;
  /** Extra redis-server arguments for every node (e.g. an ACL user). */
  serverArgs?: string[];
}

export interface RedisClusterHandle {
  /** The masters at creation, in slot order (the first owns 0-5460 of three). */
  readonly masters: RedisServer[];
  readonly replicas: RedisServer[];
  /** Every server started, added ones included. */
  readonly servers: RedisServer[];
  /** "host:port" of every node at creation, for cluster.seeds. */
  readonly seeds: string[];
  server(address: string): RedisServer | undefined;
  nodeId(server: RedisServer): Promise<string>;
  /** "host:port" of the master serving a slot, as the cluster's first node sees it. */
  ownerOf(slot: number): Promise<string | undefined>;
  /** A new, empty master joined to the cluster (no slots until moved to it). */
  addMaster(): Promise<RedisServer>;
  /** redis-cli --cluster reshard: moves `slots` slots from one master to another. */
  reshard(from: RedisServer, to: RedisServer, slots: number): Promise<string>;
  /** redis-cli --cluster rebalance, giving slots to empty masters too. */
  rebalance(): Promise<string>;
  /** Every node says cluster_state:ok and agrees on the slot map. */
  waitUntilStable(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** redis-cli's arguments for a TLS server: the CA, and the client certificate for mutual TLS. */
function cliTls(files: TlsFiles | undefined): string[] {
  return files ? ["--tls", "--cacert", files.caFile, "--cert", files.certFile, "--key", files.keyFile] : [];
}

/** Runs redis-cli with args; resolves its output, rejects with it when it fails. */
export function redisCli(args: string[], timeoutMs = 120_000, tls?: TlsFiles): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("redis-cli", [...cliTls(tls), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`redis-cli ${args.slice(0, 2).join(" ")} failed (exit ${code}):\n${output.slice(-3000)}`));
    });
  });
}

export async function startRedisCluster(masters: number, options: ClusterOptions = {}): Promise<RedisClusterHandle> {
  requireBinary("redis-cli");
  const replicasPerMaster = options.replicas ?? 0;
  const clusterArgs = ["--cluster-node-timeout", String(options.nodeTimeoutMs ?? 2000), "--cluster-require-full-coverage", "no", ...(options.serverArgs ?? [])];
  const serverOptions: RedisServerOptions = { cluster: true, args: clusterArgs, tls: options.tls };
  const tls = options.tls?.files;
  const cli = (args: string[]) => redisCli(args, undefined, tls);
  const started = await startRedisMany(masters * (1 + replicasPerMaster), serverOptions);
  const servers = [...started];
  const byAddress = (address: string) => servers.find((s) => s.address === address);
  const admin = new Map<RedisServer, Redis>();
  const client = (server: RedisServer) => admin.get(server) ?? admin.set(server, server.client()).get(server)!;
  try {
    await cli(["--cluster", "create", ...started.map((s) => s.address), "--cluster-replicas", String(replicasPerMaster), "--cluster-yes"]);
  } catch (error) {
    await stopAll(servers);
    throw error;
  }
  const handle: RedisClusterHandle = {
    masters: [],
    replicas: [],
    servers,
    seeds: started.map((s) => s.address),
    server: byAddress,
    nodeId: async (server) => String(await client(server).call("CLUSTER", "MYID")),
    async ownerOf(slot) {
      const ranges = (await client(started[0]!).call("CLUSTER", "SLOTS")) as Array<[number, number, [string, number]]>;
      const range = ranges.find(([from, to]) => from <= slot && slot <= to);
      return range && `${range[2][0]}:${range[2][1]}`;
    },
    async addMaster() {
      const [added] = await startRedisMany(1, serverOptions);
      servers.push(added!);
      await cli(["--cluster", "add-node", added!.address, handle.masters[0]!.address]);
      await handle.waitUntilStable();
      return added!;
    },
    async reshard(from, to, slots) {
      const [fromId, toId] = await Promise.all([handle.nodeId(from), handle.nodeId(to)]);
      return cli([
        "--cluster", "reshard", from.address, "--cluster-from", fromId, "--cluster-to", toId,
        "--cluster-slots", String(slots), "--cluster-yes", "--cluster-pipeline", "50",
      ]);
    },
    async rebalance() {
      return cli(["--cluster", "rebalance", handle.masters[0]!.address, "--cluster-use-empty-masters", "--cluster-pipeline", "50"]);
    },
    async waitUntilStable(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(
          servers.map(async (s) => {
            const info = String(await client(s).call("CLUSTER", "INFO").catch(() => ""));
            const slots = JSON.stringify(await client(s).call("CLUSTER", "SLOTS").catch(() => null));
            // CLUSTER SLOTS leaves out masters without slots: a node just added shows only in CLUSTER NODES.
            // redis-cli refuses to add the next node until every node knows every other one.
            const nodes = String(await client(s).call("CLUSTER", "NODES").catch(() => ""));
            const known = nodes.split("\n").filter((line) => line && !/handshake|noaddr/.test(line)).length;
            return { ok: info.includes("cluster_state:ok"), slots, known };
          }),
        );
        if (states.every((s) => s.ok && s.slots === states[0]!.slots && s.known === servers.length)) return;
        if (Date.now() > deadline) throw new Error(`cluster not stable within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async stop() {
      for (const c of admin.values()) c.disconnect();
      await stopAll(servers);
    },
  };
  await handle.waitUntilStable();
  // Who is who after create: masters in slot order, then replicas (once every replica has joined).
  type SlotsReply = Array<[number, number, [string, number], ...Array<[string, number]>]>;
  let slots: SlotsReply = [];
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    slots = (await client(started[0]!).call("CLUSTER", "SLOTS")) as SlotsReply;
    if (slots.every((entry) => entry.length - 3 >= replicasPerMaster)) break;
  }
  for (const [, , master, ...replicas] of slots.sort((a, b) => a[0] - b[0])) {
    handle.masters.push(byAddress(`${master[0]}:${master[1]}`)!);
    for (const replica of replicas) handle.replicas.push(byAddress(`${replica[0]}:${replica[1]}`)!);
  }
  if (options.hostname) {
    // Announced once the roles are known (CLUSTER SLOTS names nodes by their ip until then); gossip spreads the names.
    for (const server of servers) {
      await client(server).config("SET", "cluster-announce-hostname", options.hostname(server));
      await client(server).config("SET", "cluster-preferred-endpoint-type", "hostname");
    }
    await handle.waitUntilStable();
  }
  return handle;
}

/**
 * The manual slot migration protocol, one step at a time: begin (IMPORTING
 * on the target, MIGRATING on the source), move keys (MIGRATE), finish
 * (SETSLOT NODE everywhere). Between begin and finish the source answers ASK
 * for keys already moved, and TRYAGAIN for multi-key commands split between
 * the two.
 */
export async function migrateSlot(cluster: RedisClusterHandle, slot: number, from: RedisServer, to: RedisServer) {
  const [fromId, toId] = await Promise.all([cluster.nodeId(from), cluster.nodeId(to)]);
  const source = from.client();
  const target = to.client();
  return {
    async begin() {
      await target.call("CLUSTER", "SETSLOT", String(slot), "IMPORTING", fromId);
      await source.call("CLUSTER", "SETSLOT", String(slot), "MIGRATING", toId);
    },
    /** Moves these keys of the slot to the target. */
    async move(keys: string[]) {
      await source.call("MIGRATE", to.host, String(to.port), "", "0", "5000", "KEYS", ...keys);
    },
    async finish() {
      const rest = (await source.call("CLUSTER", "GETKEYSINSLOT", String(slot), "1000")) as string[];
      if (rest.length) await source.call("MIGRATE", to.host, String(to.port), "", "0", "5000", "KEYS", ...rest);
      for (const server of cluster.servers) await server.client().call("CLUSTER", "SETSLOT", String(slot), "NODE", toId).catch(() => undefined);
      await cluster.waitUntilStable();
    },
  };
}
