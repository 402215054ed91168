/**
 * Real redis-server instances for tests. Local binaries by default; with
 * SHARDIS_TEST_BACKEND=containers (or when redis-server is missing) and a
 * reachable Docker engine, testcontainers runs them instead.
 */
import { existsSync } from "node:fs";
import { Redis, type RedisOptions } from "ioredis";
import type { ConnectionOptions } from "node:tls";
import { freePort, hasBinary, HOST, launch, requireBinary, tempDir, waitForReply, type ManagedProcess } from "./processes.js";
import { clientTls, tlsServerArgs, type TlsFiles } from "./tls.js";

export interface RedisServerOptions {
  /** Extra redis-server arguments, e.g. ["--maxmemory", "1mb"]. */
  args?: string[];
  password?: string;
  /** Start with cluster-enabled yes (for CLUSTER KEYSLOT and cluster tests). */
  cluster?: boolean;
  /**
   * TLS only: `--port 0` and the port as `--tls-port`, replication (and the
   * cluster bus, with `cluster`) over TLS too; `mutual`: clients must show a
   * certificate signed by the CA.
   */
  tls?: { files: TlsFiles; mutual?: boolean };
}

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** "127.0.0.1:port" */
  readonly address: string;
  /** tls.connect() options a client of this server needs (undefined without TLS). */
  readonly tls: ConnectionOptions | undefined;
  /** A raw ioredis client to this server, closed by stop(). */
  client(options?: RedisOptions): Redis;
  /** Sends a signal to the server process (SIGKILL, SIGSTOP, SIGCONT). */
  signal(signal: NodeJS.Signals): void;
  /** Stops the process but keeps the port and data dir, for restart(). */
  halt(): Promise<void>;
  /** Starts the server again on the same port (after halt or SIGKILL). */
  restart(): Promise<void>;
  stop(): Promise<void>;
  readonly pid: number;
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  if (await useContainers()) return startRedisContainer(options);
  requireBinary("redis-server");
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await startLocal(port, options);
    } catch (error) {
      // Another process may have taken the port between probe and bind.
      if (attempt >= 5) throw error;
    }
  }
}

async function startLocal(port: number, options: RedisServerOptions): Promise<RedisServer> {
  // A cluster node fsyncs nodes.conf on every slot-map change: on this VM's disk that stalls it for up to 200 ms
  // in the middle of a rebalance, so cluster nodes keep their files in memory where the system has a tmpfs.
  const dir = tempDir(`redis-${port}`, options.cluster && existsSync("/dev/shm") ? "/dev/shm" : undefined);
  const tls = options.tls && clientTls(options.tls.files);
  const ports = options.tls
    ? ["--port", "0", "--tls-port", String(port), ...tlsServerArgs(options.tls.files, options.tls.mutual), ...(options.cluster ? ["--tls-cluster", "yes"] : [])]
    : ["--port", String(port)];
  const args = [
    ...ports, "--bind", HOST, "--save", "", "--appendonly", "no",
    "--dir", dir.path, "--logfile", "", "--daemonize", "no", "--protected-mode", "no",
    // A replica's full sync starts at once instead of after the 5 s default wait for more replicas.
    "--repl-diskless-sync-delay", "0",
    ...(options.password ? ["--requirepass", options.password] : []),
    ...(options.cluster ? ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"] : []),
    ...(options.args ?? []),
  ];
  const clients = new Set<Redis>();
  // The readiness probe checks the chain only: a certificate may be issued for hostnames, not for 127.0.0.1.
  const probeTls = tls && { ...tls, checkServerIdentity: () => undefined };
  let proc: ManagedProcess = await spawnReady(port, args, dir.path, options.password, probeTls);
  const server: RedisServer = {
    host: HOST,
    port,
    address: `${HOST}:${port}`,
    tls,
    get pid() {
      return proc.pid;
    },
    client(clientOptions) {
      const client = new Redis({ host: HOST, port, password: options.password, lazyConnect: false, ...(probeTls && { tls: probeTls }), ...clientOptions });
      client.on("error", () => undefined); // tests assert on replies, not on reconnect noise
      clients.add(client);
      return client;
    },
    signal: (signal) => proc.signal(signal),
    halt: () => proc.stop(),
    async restart() {
      await proc.stop();
      proc = await spawnReady(port, args, dir.path, options.password, probeTls);
    },
    async stop() {
      for (const client of clients) client.disconnect();
      clients.clear();
      await proc.stop();
      dir.remove();
    },
  };
  return server;
}

async function spawnReady(port: number, args: string[], cwd: string, password?: string, tls?: ConnectionOptions): Promise<ManagedProcess> {
  const proc = launch("redis-server", args, cwd);
  const probe = password ? `AUTH ${password}\r\nPING\r\n` : "PING\r\n";
  try {
    await waitForReply(port, probe, /\+PONG/, proc, 5000, tls);
  } catch (error) {
    await proc.stop(100);
    throw error;
  }
  return proc;
}

let containers: Promise<boolean> | undefined;

/** Containers only when asked for, or when there is no local binary; and only if Docker answers. */
function useContainers(): Promise<boolean> {
  containers ??= (async () => {
    const asked = process.env.SHARDIS_TEST_BACKEND === "containers";
    if (!asked && hasBinary("redis-server")) return false;
    try {
      const { getContainerRuntimeClient } = await import("testcontainers");
      await getContainerRuntimeClient();
      return true;
    } catch {
      if (asked) throw new Error("SHARDIS_TEST_BACKEND=containers but no container runtime is reachable");
      return false;
    }
  })();
  return containers;
}

async function startRedisContainer(options: RedisServerOptions): Promise<RedisServer> {
  if (options.tls) throw new Error("TLS servers need local redis-server processes (SHARDIS_TEST_BACKEND=local)");
  const { RedisContainer } = await import("@testcontainers/redis");
  let container = new RedisContainer("redis:7.0").withCommand([
    "redis-server", "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0",
    ...(options.cluster ? ["--cluster-enabled", "yes"] : []),
    ...(options.args ?? []),
  ]);
  if (options.password) container = container.withPassword(options.password);
  const running = await container.start();
  const port = running.getPort();
  const host = running.getHost();
  const clients = new Set<Redis>();
  const unsupported = (what: string) => {
    throw new Error(`${what} needs local redis-server processes (SHARDIS_TEST_BACKEND=local)`);
  };
  return {
    host,
    port,
    address: `${host}:${port}`,
    tls: undefined,
    pid: -1,
    client(clientOptions) {
      const client = new Redis({ host, port, password: options.password, ...clientOptions });
      client.on("error", () => undefined);
      clients.add(client);
      return client;
    },
    signal: () => unsupported("signals"),
    halt: async () => unsupported("halt"),
    restart: async () => unsupported("restart"),
    async stop() {
      for (const client of clients) client.disconnect();
      await running.stop();
    },
  };
}

/** Starts n servers in parallel. */
export function startRedisMany(n: number, options: RedisServerOptions = {}): Promise<RedisServer[]> {
  return Promise.all(Array.from({ length: n }, () => startRedis(options)));
}

export async function stopAll(servers: Array<RedisServer | undefined>): Promise<void> {
  await Promise.all(servers.map((s) => s?.stop()));
}
