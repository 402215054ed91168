/**
 * Redis Cluster as a topology source: asks a cluster node for the shards
 * (CLUSTER SHARDS; CLUSTER SLOTS on servers before 7), and turns the answer
 * into the next layout: one shard per master, its replicas, the slot map.
 *
 * Shards keep their index and name for the client's life: a shard is named
 * after its first master's node id (8 hex digits), and a failover, where a
 * replica of the shard becomes its master, keeps the name. Masters added to
 * the cluster become new shards.
 */
import { formatAddress } from "../config/address.js";
import type { Address } from "../config/types.js";
import { ClientClosedError, ClusterError } from "../errors.js";
import type { AddressPolicy } from "../topology/addressPolicy.js";
import { UNASSIGNED, type Layout, type LayoutDraft, type ShardNodes } from "../topology/Topology.js";
import type { LayoutSource } from "../topology/TopologyHolder.js";
import { parseClusterShards, parseClusterSlots, type ClusterNodeInfo, type ClusterShardInfo } from "./clusterShards.js";

/** How the source reaches cluster nodes (connections of the client's own). */
export interface ClusterPort {
  /** CLUSTER <args> on the node at address, bounded by a deadline; rejects with what went wrong. */
  ask(address: Address, args: string[]): Promise<unknown>;
}

export interface ClusterEvents {
  /** A node answered with an address the policy refused. */
  refused(shard: string, address: string, reason: string): void;
  /** A node could not be asked, or answered with an error. */
  error(node: string, error: Error): void;
}

export class ClusterSource implements LayoutSource {
  /** Node id -> shard index, across refreshes. */
  private readonly shardOfNode = new Map<string, number>();
  /** The node that answered last: asked first next time. */
  private lastGood: string | undefined;
  /** Why the last refresh found no map (for errors of commands that waited for one). */
  lastError: ClusterError | undefined;

  constructor(
    private readonly seeds: readonly Address[],
    private readonly port: ClusterPort,
    private readonly policy: AddressPolicy,
    private readonly events: ClusterEvents,
    /** The client connects over TLS: nodes' TLS ports are the ones to dial. */
    private readonly tls = false,
  ) {}

  async observe(current: Layout): Promise<LayoutDraft> {
    const observed = await this.read(current);
    this.lastError = undefined;
    return this.draft(current, observed);
  }

  /** Asks nodes in turn (the last that answered, the layout's masters and replicas, the seeds) until one answers with a slot map. */
  private async read(current: Layout): Promise<ClusterShardInfo[]> {
    const candidates = new Map<string, Address>();
    const add = (address: Address | undefined) => address && !candidates.has(formatAddress(address)) && candidates.set(formatAddress(address), address);
    if (this.lastGood) for (const s of current.shards) for (const a of [s.master, ...s.replicas]) if (a && formatAddress(a) === this.lastGood) add(a);
    for (const shard of current.shards) add(shard.master);
    for (const shard of current.shards) for (const replica of shard.replicas) add(replica);
    for (const seed of this.seeds) add(seed);
    let last: ClusterError | undefined;
    for (const [key, address] of candidates) {
      try {
        const shards = await this.ask(address);
        // A node reset, or removed with `redis-cli --cluster del-node` (which resets it), knows only itself and no slot:
        // taken at its word, it would leave every key unserved, and be asked first again and again.
        if (!shards.some((shard) => shard.slots.length > 0)) throw new ClusterError("knows no slot of any node: not (or no longer) part of a serving cluster", key);
        this.lastGood = key;
        return shards;
      } catch (error) {
        // The client is closing: nobody to ask next, nothing to report.
        if (error instanceof ClientClosedError) throw error;
        last = error instanceof ClusterError ? error : new ClusterError((error as Error).message, key, error);
        this.events.error(key, last);
      }
    }
    // Named after the last node that failed: with one seed, the seed that is not a cluster node, or is down.
    this.lastError = new ClusterError(
      `no cluster node answered with a slot map (asked ${[...candidates.keys()].join(", ")}); the last said: ${last?.message ?? "nothing"}`,
      last?.node,
      last,
    );
    throw this.lastError;
  }

  private async ask(address: Address): Promise<ClusterShardInfo[]> {
    const node = formatAddress(address);
    try {
      return parseClusterShards(await this.port.ask(address, ["SHARDS"]), this.tls);
    } catch (error) {
      const message = (error as Error).message;
      if (/cluster support disabled/i.test(message)) throw new ClusterError("not a cluster node (cluster support is disabled)", node, error);
      if (!/unknown subcommand|unknown command|^NOPERM/i.test(message)) throw error;
    }
    // Servers before Redis 7 have no CLUSTER SHARDS, and an ACL may allow only CLUSTER SLOTS.
    return parseClusterSlots(await this.port.ask(address, ["SLOTS"]));
  }

  /** The observed shards as the next layout: known shards keep their index and name, new ones are added. */
  private draft(current: Layout, observed: readonly ClusterShardInfo[]): LayoutDraft {
    const names = [...current.names];
    const shards: ShardNodes[] = current.shards.map(() => ({ master: undefined, replicas: [] }));
    const slots = new Uint16Array(16384).fill(UNASSIGNED);
    const claimed = new Set<number>();
    for (const shard of observed) {
      const master = pickMaster(shard.nodes);
      // A failed node left without slots (a master a replica replaced) is not a shard: it shows up on its own until it is forgotten.
      if (!master || (shard.slots.length === 0 && shard.nodes.every(failed))) continue;
      let index = shard.nodes.map((n) => this.shardOfNode.get(n.id)).find((i) => i !== undefined && !claimed.has(i));
      if (index === undefined) {
        index = names.length;
        names.push(uniqueName(master.id, names));
        shards.push({ master: undefined, replicas: [] });
      }
      claimed.add(index);
      for (const node of shard.nodes) this.shardOfNode.set(node.id, index);
      const name = names[index]!;
      const replicas = shard.nodes
        .filter((n) => n.role === "replica" && n.health === "online")
        .flatMap((n) => this.admit(name, n) ?? []);
      shards[index] = { master: this.admit(name, master), replicas };
      for (const [start, end] of shard.slots) slots.fill(index, start, end + 1);
    }
    return { shards, names, slots };
  }

  private admit(shard: string, node: ClusterNodeInfo): Address | undefined {
    const admission = this.policy.admit({ host: node.host, port: node.port });
    if (admission.ok) return admission.address;
    this.events.refused(shard, `${node.host}:${node.port}`, admission.reason);
    return undefined;
  }
}

/** The shard's master: the one the cluster says is serving, else the last one it named (a failed master, until a replica takes over). */
function pickMaster(nodes: readonly ClusterNodeInfo[]): ClusterNodeInfo | undefined {
  const masters = nodes.filter((n) => n.role === "master");
  return masters.find((n) => !failed(n)) ?? masters[0];
}

/** Redis 7.0 says "fail", the documentation "failed". */
function failed(node: ClusterNodeInfo): boolean {
  return node.health.startsWith("fail");
}

/** A shard's name from its first master's node id: 8 hex digits, more when two would clash. */
function uniqueName(id: string, taken: readonly string[]): string {
  for (let length = 8; length < id.length; length += 4) {
    const name = id.slice(0, length);
    if (!taken.includes(name)) return name;
  }
  return `${id}-${taken.length}`;
}
