/**
 * The simulated fleet: shards of a master and an optional replica, the
 * connections the client opened to them, a layout source standing in for
 * Sentinel (it names the current master of each shard), and the faults the
 * scheduler injects. Every change of any key on any node is logged with
 * its fake time, so the checker can tell whether a reply was a value that
 * key really held.
 */
import { formatAddress } from "../../lib/config/address.js";
import type { Address } from "../../lib/config/types.js";
import type { LayoutSource } from "../../lib/topology/TopologyHolder.js";
import { SimConnection, type Network } from "./connection.js";
import type { Random } from "./random.js";
import { SimServer, type Change } from "./server.js";
import { SimCluster } from "./cluster.js";
import { keySlot } from "../../lib/sharding/keySlot.js";

export interface SimShard {
  readonly name: string;
  /** The nodes of the shard; which one is master changes with failovers. */
  readonly nodes: SimServer[];
}

export class World implements Network {
  readonly servers = new Map<string, SimServer>();
  readonly shards: SimShard[] = [];
  readonly connections: SimConnection[] = [];
  inFlight = 0;
  /** Every change of every key on every node, in time order. */
  readonly changes: Change[] = [];
  /** What was done to the fleet, in order (printed with a failure). */
  readonly log: string[] = [];
  /** Faults to undo by time: [fake time, undo]. */
  private readonly undo: Array<{ at: number; run: () => void; what: string }> = [];

  /** Set when the fleet is a Redis Cluster. */
  readonly cluster: SimCluster | undefined;

  constructor(
    readonly random: Random,
    shards: number,
    replicas: boolean,
    cluster = false,
  ) {
    for (let i = 0; i < shards; i++) {
      const master = this.add(`10.0.${i}.1:6379`, "master");
      const nodes = [master];
      if (replicas) {
        const replica = this.add(`10.0.${i}.2:6379`, "replica");
        replica.replicate(master);
        nodes.push(replica);
      }
      this.shards.push({ name: `s${i}`, nodes });
    }
    if (cluster) {
      this.cluster = new SimCluster(this.shards);
      for (const server of this.servers.values()) server.cluster = this.cluster;
    }
  }

  private add(address: string, role: "master" | "replica"): SimServer {
    const server = new SimServer(address, role, this.random, this.changes);
    this.servers.set(address, server);
    return server;
  }

  server(address: string): SimServer | undefined {
    return this.servers.get(address);
  }

  opened(connection: SimConnection): void {
    this.connections.push(connection);
  }

  /** The client's connection factory. */
  readonly factory = (address: Address) => new SimConnection(formatAddress(address), this);

  /** The shard's master: the one up, if any (a failed-over master is still "master" while it is down). */
  masterOf(shard: number): SimServer {
    const nodes = this.shards[shard]!.nodes;
    return nodes.find((n) => n.role === "master" && n.up) ?? nodes.find((n) => n.role === "master")!;
  }

  replicaOf(shard: number): SimServer | undefined {
    return this.shards[shard]!.nodes.find((n) => n.role === "replica");
  }

  /** As Sentinel would say: each shard's master and replicas now. */
  readonly source: LayoutSource = {
    observe: async () => ({
      // Sentinel names the promoted replica once a failover is done (the old master, down, is still "master" here).
      shards: this.shards.map((shard, i) => {
        const master = this.masterOf(i);
        return { master: addressOf(master.address), replicas: shard.nodes.filter((n) => n.role === "replica").map((n) => addressOf(n.address)) };
      }),
    }),
  };

  /** The shard configs the client starts from. */
  shardConfigs(): Array<{ name: string; master: string; replicas: string[] }> {
    return this.shards.map((shard, i) => ({ name: shard.name, master: this.masterOf(i).address, replicas: this.replicaOf(i) ? [this.replicaOf(i)!.address] : [] }));
  }

  // --- faults ---

  /** Resets one connection to the node now (commands on the way are lost; the client reconnects). */
  resetConnection(connection: SimConnection): void {
    this.note(`reset a connection to ${connection.address}`);
    connection.reset();
  }

  /** The node's process dies for `downMs`, then restarts (with its data, or empty). */
  crash(server: SimServer, downMs: number, loseData: boolean): void {
    if (!server.up) return;
    this.note(`crash ${server.address} for ${downMs} ms${loseData ? ", losing its data" : ""}`);
    server.kill();
    for (const connection of this.connections) if (connection.server === server) connection.reset();
    this.later(downMs, `restart ${server.address}`, () => {
      server.restart(loseData);
      // A replica resyncs from its master; a master that lost its data makes its replicas lose theirs too (as Redis).
      if (server.role === "replica" && server.master) server.replicate(server.master);
      if (server.role === "master" && loseData) for (const replica of server.replicas) if (replica.up) replica.replicate(server);
    });
  }

  /** Sentinel's failover: the master dies, its replica is promoted; the old master comes back as a replica. */
  failover(shard: number, downMs: number): void {
    const master = this.masterOf(shard);
    const replica = this.replicaOf(shard);
    if (!replica || !replica.up || !master.up) return;
    this.note(`failover of ${this.shards[shard]!.name}: ${master.address} dies, ${replica.address} promoted`);
    master.kill();
    for (const connection of this.connections) if (connection.server === master) connection.reset();
    replica.promote();
    this.later(downMs, `${master.address} back as a replica`, () => {
      master.restart(false);
      master.replicate(replica);
    });
  }

  /** A manual failover (SENTINEL FAILOVER): the replica is promoted, the master stays up and becomes its replica. */
  demote(shard: number): void {
    const master = this.masterOf(shard);
    const replica = this.replicaOf(shard);
    if (!replica || !replica.up || !master.up) return;
    this.note(`${this.shards[shard]!.name}: ${master.address} demoted, ${replica.address} promoted (both up)`);
    replica.promote();
    master.replicate(replica);
  }

  /** The node answers these commands with an error for a while (an ACL change, LOADING, OOM). */
  refuse(server: SimServer, commands: readonly string[], message: string, forMs: number): void {
    this.note(`${server.address} refuses ${commands.join(",")} with "${message.split(" ")[0]}" for ${forMs} ms`);
    for (const command of commands) server.refusals.set(command, message);
    this.later(forMs, `${server.address} accepts ${commands.join(",")} again`, () => {
      for (const command of commands) server.refusals.delete(command);
    });
  }

  /** Everything to and from the node takes `ms` longer for a while (a slow network, a busy server). */
  slow(server: SimServer, ms: number, forMs: number): void {
    this.note(`${server.address} slowed by ${ms} ms for ${forMs} ms`);
    server.extraLatencyMs = ms;
    this.later(forMs, `${server.address} fast again`, () => (server.extraLatencyMs = 0));
  }

  /**
   * Moves a slot to another shard, as redis-cli --cluster reshard does: the
   * slot migrates (the source answers ASK for keys already moved), its keys
   * move one by one every few ms, then the target owns it. Heal finishes it.
   */
  migrate(slot: number, to: number): void {
    const cluster = this.cluster!;
    const from = cluster.owner[slot]!;
    if (from === to || cluster.migrating.has(slot)) return;
    this.note(`slot ${slot} migrates from ${this.shards[from]!.name} to ${this.shards[to]!.name}`);
    cluster.migrating.set(slot, { from, to });
    const step = () => {
      if (!cluster.migrating.has(slot)) return;
      const source = cluster.masterOf(from);
      const key = source.up ? source.keys.keysIn((k) => keySlot(Buffer.from(k, "latin1")) === slot)[0] : undefined;
      if (key !== undefined) {
        this.moveKeys(source, cluster.masterOf(to), [key]);
        setTimeout(step, this.random.int(1, 30));
        return;
      }
      if (!source.up) return void setTimeout(step, 50);
      this.finishMigration(slot);
    };
    setTimeout(step, this.random.int(1, 30));
    this.later(60_000, `slot ${slot} migration finished`, () => this.finishMigration(slot));
  }

  /**
   * MIGRATE without REPLACE: a key the target has already (written there
   * through ASK, after a failover brought an older copy back on the source)
   * keeps the target's value; the source's copy goes either way.
   */
  private moveKeys(source: SimServer, target: SimServer, keys: readonly string[]): void {
    const fresh = keys.filter((key) => target.keys.get(key) === undefined);
    if (fresh.length) target.applyStates(source.keys.states(fresh));
    source.applyStates(keys.map((key) => ({ key, slot: undefined })));
  }

  private finishMigration(slot: number): void {
    const cluster = this.cluster!;
    const migration = cluster.migrating.get(slot);
    if (!migration) return;
    const source = cluster.masterOf(migration.from);
    const keys = source.keys.keysIn((k) => keySlot(Buffer.from(k, "latin1")) === slot);
    if (keys.length) this.moveKeys(source, cluster.masterOf(migration.to), keys);
    cluster.migrating.delete(slot);
    cluster.owner[slot] = migration.to;
    this.note(`slot ${slot} now served by ${this.shards[migration.to]!.name}`);
  }

  /** Undoes every fault now (before the final checks). */
  heal(): void {
    for (const pending of this.undo.splice(0)) pending.run();
    this.note("healed");
  }

  /** Runs undo steps that are due (the scheduler calls this as time passes). */
  due(): void {
    const now = Date.now();
    for (let i = 0; i < this.undo.length; ) {
      if (this.undo[i]!.at <= now) {
        const [pending] = this.undo.splice(i, 1);
        this.note(pending!.what);
        pending!.run();
      } else i++;
    }
  }

  private later(ms: number, what: string, run: () => void): void {
    this.undo.push({ at: Date.now() + ms, run, what });
  }

  private note(what: string): void {
    this.log.push(`${Date.now() - START}ms ${what}`);
  }
}

function addressOf(text: string): Address {
  const [host, port] = text.split(":");
  return { host: host!, port: Number(port) };
}

/** Fake time starts here (ms since the epoch), so logged times read as offsets. */
export const START = 1_800_000_000_000;
