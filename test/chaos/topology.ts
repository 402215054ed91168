/**
 * The servers a soak runs against, and the options its clients get:
 *   plain     3 shards, a master and a replica each, fixed roles; some
 *             nodes reached through fault proxies (s0's and s1's masters, s2's replica);
 *             with `grow`, a 4th shard s3 (its master proxied too) that the
 *             clients' `migration` adds to the 3 while the faults run
 *   sentinel  3 shards, a master and a replica each, under 3 Sentinels
 *   cluster   a Redis Cluster of 3 masters with a replica each
 * Every server has the clients' ACL user (passed on its command line, so a
 * restarted server has it too) and DEBUG enabled.
 */
import type { MigrationOptions, ShardedClientOptions } from "../../lib/index.js";
import { startRedisCluster, type RedisClusterHandle } from "../support/cluster.js";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy.js";
import { HOST } from "../support/processes.js";
import { startRedis, stopAll, type RedisServer } from "../support/redis.js";
import { startHaTopology, waitForLink, type SentinelProcess } from "../support/sentinel.js";

export type TopologyKind = "plain" | "sentinel" | "cluster";

export const USER = "chaos";
export const PASSWORD = "chaos-Pa55";
/** The clients' user as a redis-server config line; the ACL fault takes permissions from it and gives them back. */
const SERVER_ARGS = ["--enable-debug-command", "yes", "--user", USER, "on", `>${PASSWORD}`, "~*", "&*", "+@all"];

export interface ChaosNode {
  readonly server: RedisServer;
  /** The shard it serves (plain, sentinel); a cluster node's shard is its master's slots, read live. */
  readonly shard?: string;
  /** What clients connect to instead of the server (plain topology). */
  readonly proxy?: FaultProxy;
}

export interface ChaosTopology {
  readonly kind: TopologyKind;
  readonly nodes: ChaosNode[];
  readonly sentinels: SentinelProcess[];
  readonly cluster?: RedisClusterHandle;
  /** Sentinel master names by shard name. */
  readonly masterNames: ReadonlyMap<string, string>;
  /** A client process's options: JSON-able, with a connection name that tells its connections apart (and, grown, the migration). */
  clientOptions(worker: number, migration?: Growth): ShardedClientOptions;
  /** Plain with `grow`: the fleet before and after the migration, each without it (where a key lives in each). */
  readonly fleets?: { readonly from: ShardedClientOptions; readonly to: ShardedClientOptions };
  node(address: string): ChaosNode | undefined;
  stop(): Promise<void>;
}

const SHARDS = 3;
const clientRedis = (worker: number) => ({ username: USER, password: PASSWORD, connectionName: `chaos-w${worker}` });

/** The timing of a plain topology's growth (`from` is filled in: the first 3 shards). */
export type Growth = Omit<MigrationOptions, "from">;

export function startTopology(kind: TopologyKind, grow = false): Promise<ChaosTopology> {
  if (kind === "plain") return startPlain(grow);
  if (kind === "sentinel") return startSentinel();
  return startCluster();
}

async function startPlain(grow: boolean): Promise<ChaosTopology> {
  const servers: RedisServer[] = [];
  const proxies: FaultProxy[] = [];
  const nodes: ChaosNode[] = [];
  try {
    for (let i = 0; i < SHARDS + (grow ? 1 : 0); i++) {
      const master = await startRedis({ args: SERVER_ARGS });
      servers.push(master);
      const replica = await startRedis({ args: [...SERVER_ARGS, "--replicaof", HOST, String(master.port)] });
      servers.push(replica);
      for (const [server, proxied] of [[master, i !== 2], [replica, i === 2]] as const) {
        const proxy = proxied ? await startFaultProxy(server) : undefined;
        if (proxy) proxies.push(proxy);
        nodes.push({ server, shard: `s${i}`, ...(proxy ? { proxy } : {}) });
      }
      await waitForLink(replica, master);
    }
  } catch (error) {
    await Promise.all(proxies.map((p) => p.close()));
    await stopAll(servers);
    throw error;
  }
  const reach = (n: ChaosNode) => n.proxy?.address ?? n.server.address;
  const fleet = (count: number) =>
    Array.from({ length: count }, (_, i) => ({ name: `s${i}`, master: reach(nodes[2 * i]!), replicas: [reach(nodes[2 * i + 1]!)] }));
  const before = fleet(SHARDS);
  const after = fleet(nodes.length / 2);
  return {
    kind: "plain",
    nodes,
    sentinels: [],
    masterNames: new Map(),
    clientOptions: (worker, migration) => ({
      shards: after,
      redis: clientRedis(worker),
      ...(grow && migration ? { migration: { ...migration, from: { shards: before } } } : {}),
    }),
    ...(grow ? { fleets: { from: { shards: before }, to: { shards: after } } } : {}),
    node: (address) => nodes.find((n) => n.server.address === address),
    async stop() {
      await Promise.all(proxies.map((p) => p.close()));
      await stopAll(servers);
    },
  };
}

async function startSentinel(): Promise<ChaosTopology> {
  const ha = await startHaTopology({ shards: SHARDS, replicasPerShard: 1, sentinels: 3, downAfterMs: 1000, serverArgs: SERVER_ARGS });
  const nodes = ha.shards.flatMap((s, i) => [s.master, ...s.replicas].map((server) => ({ server, shard: `s${i}` })));
  return {
    kind: "sentinel",
    nodes,
    sentinels: ha.sentinels,
    masterNames: new Map(ha.shards.map((s, i) => [`s${i}`, s.masterName])),
    clientOptions: (worker) => ({
      sentinels: ha.sentinels.map((s) => s.address),
      shards: ha.shards.map((s, i) => ({ name: `s${i}`, masterName: s.masterName })),
      redis: clientRedis(worker),
    }),
    node: (address) => nodes.find((n) => n.server.address === address),
    stop: () => ha.stop(),
  };
}

async function startCluster(): Promise<ChaosTopology> {
  const cluster = await startRedisCluster(SHARDS, { replicas: 1, nodeTimeoutMs: 2000, serverArgs: SERVER_ARGS });
  const nodes = cluster.servers.map((server) => ({ server }));
  return {
    kind: "cluster",
    nodes,
    sentinels: [],
    cluster,
    masterNames: new Map(),
    clientOptions: (worker) => ({ cluster: { seeds: cluster.seeds }, redis: clientRedis(worker) }),
    node: (address) => nodes.find((n) => n.server.address === address),
    stop: () => cluster.stop(),
  };
}
