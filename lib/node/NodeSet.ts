import type { ResolvedShard } from "../config/resolve.js";
import type { RedisConnectionOptions } from "../config/types.js";
import { NodeClient, type NodeEvents } from "./NodeClient.js";
import { FlushScheduler } from "./scheduler.js";

/** The node connections of a client, indexed by shard, sharing one flush scheduler. */
export class NodeSet {
  private readonly masters: readonly NodeClient[];
  /** Shared with the client's dedicated connections: one flush pass per event-loop turn. */
  readonly scheduler = new FlushScheduler();

  constructor(shards: readonly ResolvedShard[], redis: Readonly<RedisConnectionOptions>, events: NodeEvents) {
    this.masters = shards.map((s) => new NodeClient(s.name, s.master, redis, this.scheduler, events));
  }

  master(shardIndex: number): NodeClient {
    return this.masters[shardIndex]!;
  }

  get all(): readonly NodeClient[] {
    return this.masters;
  }

  connect(): void {
    for (const node of this.masters) node.connect();
  }

  /** Lets accepted commands settle (each within its deadline), then closes every connection. */
  async close(): Promise<void> {
    await Promise.all(this.masters.map((node) => node.drain()));
    await Promise.all(this.masters.map((node) => node.close()));
  }
}
