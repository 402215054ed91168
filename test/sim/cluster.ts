/**
 * A Redis Cluster in the simulation: which shard owns each of the 16384
 * slots, slots migrating between shards, and how a node answers a keyed
 * command for a slot it does not serve (MOVED, ASK, TRYAGAIN, CROSSSLOT),
 * as Redis's getNodeByQuery does. CLUSTER SHARDS and CLUSTER SLOTS answer
 * from the same state, so the client's map and the nodes never disagree
 * longer than a refresh.
 */
import { exists, getKeyIndexes } from "@ioredis/commands";
import { keySlot, SLOT_COUNT } from "../../lib/sharding/keySlot.js";
import { bulk, err, type Args, type Reply } from "./commands.js";
import type { Session, SimServer } from "./server.js";

export interface SimClusterShard {
  readonly nodes: SimServer[];
}

/** A slot on its way from one shard to another: keys move one by one; the source answers ASK for keys it no longer has. */
export interface Migration {
  readonly from: number;
  readonly to: number;
}

const NODE_ID = (address: string) => Buffer.from(address.padEnd(40, "."), "latin1").toString("hex").slice(0, 40);

export class SimCluster {
  /** slot -> shard index */
  readonly owner = new Uint16Array(SLOT_COUNT);
  readonly migrating = new Map<number, Migration>();

  constructor(readonly shards: readonly SimClusterShard[]) {
    // Contiguous ranges, as redis-cli --cluster create assigns them.
    const per = Math.ceil(SLOT_COUNT / shards.length);
    for (let slot = 0; slot < SLOT_COUNT; slot++) this.owner[slot] = Math.min(shards.length - 1, Math.floor(slot / per));
  }

  /** The shard's master: the one up (a failed-over master stays "master", failed, until it rejoins as a replica). */
  masterOf(shard: number): SimServer {
    const nodes = this.shards[shard]!.nodes;
    return nodes.find((n) => n.role === "master" && n.up) ?? nodes.find((n) => n.role === "master") ?? nodes[0]!;
  }

  shardOfNode(server: SimServer): number {
    return this.shards.findIndex((s) => s.nodes.includes(server));
  }

  /**
   * Where a keyed command goes, seen from `server`: undefined to serve it
   * here, or the error Redis answers instead. `inMulti`: queued inside MULTI
   * (checked at queue time and again at EXEC).
   */
  route(server: SimServer, session: Session, name: string, args: Args): Error | undefined {
    const keys = keysOf(name, args);
    if (keys.length === 0) return undefined;
    const slots = new Set(keys.map((key) => keySlot(Buffer.from(key, "latin1"))));
    if (slots.size > 1) return err("CROSSSLOT Keys in request don't hash to the same slot");
    const [slot] = slots as unknown as [number];
    const owner = this.owner[slot]!;
    const mine = this.shardOfNode(server);
    const migration = this.migrating.get(slot);
    if (owner === mine) {
      // A replica serves reads only on a connection that said READONLY.
      if (server.role === "replica" && (!session.readonly || isWrite(name))) return this.moved(slot, owner);
      if (migration && migration.from === mine && server.role === "master") {
        const present = keys.filter((key) => server.keys.get(key) !== undefined).length;
        if (present === 0) return err(`ASK ${slot} ${this.masterOf(migration.to).address}`);
        if (present < keys.length) return err("TRYAGAIN Multiple keys request during rehashing of slot");
      }
      return undefined;
    }
    // Importing: served for a client that said ASKING; the rest still belongs to the owner.
    if (migration && migration.to === mine && session.asking && server.role === "master") return undefined;
    return this.moved(slot, owner);
  }

  private moved(slot: number, shard: number): Error {
    return err(`MOVED ${slot} ${this.masterOf(shard).address}`);
  }

  /** CLUSTER SHARDS / SLOTS / MYID / INFO. */
  command(server: SimServer, args: Args): Reply {
    const sub = args[0]?.toLowerCase();
    if (sub === "shards") return this.shardsReply();
    if (sub === "slots") return this.slotsReply();
    if (sub === "myid") return bulk(NODE_ID(server.address));
    if (sub === "info") return bulk("cluster_state:ok\r\ncluster_slots_assigned:16384\r\n");
    return err(`ERR unknown subcommand '${sub}'`);
  }

  private ranges(shard: number): number[] {
    const flat: number[] = [];
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (this.owner[slot] !== shard) continue;
      if (flat.length && flat[flat.length - 1] === slot - 1) flat[flat.length - 1] = slot;
      else flat.push(slot, slot);
    }
    return flat;
  }

  private shardsReply(): Reply {
    return this.shards.map((shard, i) => [
      bulk("slots"),
      this.ranges(i),
      bulk("nodes"),
      shard.nodes.map((node) => {
        const [ip, port] = node.address.split(":");
        return [
          bulk("id"), bulk(NODE_ID(node.address)),
          bulk("port"), Number(port),
          bulk("ip"), bulk(ip!),
          bulk("endpoint"), bulk(ip!),
          bulk("role"), bulk(node.role === "master" ? "master" : "replica"),
          bulk("replication-offset"), node.offset,
          bulk("health"), bulk(node.up ? "online" : "failed"),
        ];
      }),
    ]);
  }

  private slotsReply(): Reply {
    const out: Reply[] = [];
    this.shards.forEach((shard, i) => {
      const ranges = this.ranges(i);
      const nodes = [this.masterOf(i), ...shard.nodes.filter((n) => n.role === "replica")];
      for (let r = 0; r < ranges.length; r += 2) {
        out.push([ranges[r]!, ranges[r + 1]!, ...nodes.map((n) => [bulk(n.address.split(":")[0]!), Number(n.address.split(":")[1]), bulk(NODE_ID(n.address))])]);
      }
    });
    return out;
  }
}

/** The keys of a command, as Redis's command table says (binary-safe latin1 strings). */
export function keysOf(name: string, args: Args): string[] {
  if (!exists(name)) return [];
  try {
    return getKeyIndexes(name, args as string[]).map((i) => args[i]!);
  } catch {
    return [];
  }
}

const WRITE = new Set(["set", "del", "unlink", "incr", "incrby", "decr", "decrby", "mset", "hset", "hdel", "hincrby", "rpush", "lpush", "expire", "pexpire", "getdel", "eval", "evalsha"]);

function isWrite(name: string): boolean {
  return WRITE.has(name);
}
