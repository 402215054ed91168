/**
 * Picks the node a read goes to, by policy. Writes never come here: they
 * always go to the master.
 *   master            the master
 *   replicaPreferred  a readable replica (round robin), else the master
 *   replica           a readable replica, else NoReplicaAvailableError
 *   nearest           the master or a readable replica, whichever answers fastest (moving average)
 *   any               round robin over the master and readable replicas
 * "Readable": connected, breaker closed, not syncing, lag within maxReplicaLagMs.
 * When none is readable at this instant and the master cannot take the read,
 * a replica that was fit at its last check (its connection only momentarily
 * down, as around a failover) is still better than a master known to be down:
 * the read waits for it within its deadline.
 */
import type { ReadPolicy } from "../config/types.js";
import { NoReplicaAvailableError } from "../errors.js";
import type { NodeClient } from "../connection/NodeClient.js";
import type { NodeRegistry } from "../topology/NodeRegistry.js";
import type { HealthMonitor } from "./HealthMonitor.js";

export class ReadRouter {
  private turn = 0;

  constructor(
    private readonly registry: NodeRegistry,
    private readonly health: HealthMonitor,
    /** A shard a fleet change released: no node, as for a master not known yet (the caller says why: ShardReleasedError). */
    private readonly released: (shard: number) => boolean = () => false,
  ) {}

  /** The node for a read on this shard; undefined while the shard has no master yet, or was released. */
  node(shard: number, policy: ReadPolicy): NodeClient | undefined {
    if (this.released(shard)) return undefined;
    const master = this.registry.master(shard);
    if (policy === "master") return master;
    const replicas = this.registry.replicasOf(shard);
    const readable = replicas.filter((r) => this.health.readable(r));
    switch (policy) {
      case "replicaPreferred":
        if (readable.length) return this.next(readable);
        if (master?.admits) return master;
        return this.next(this.reconnecting(replicas)) ?? master;
      case "replica":
        if (readable.length) return this.next(readable);
        if (this.reconnecting(replicas).length) return this.next(this.reconnecting(replicas));
        throw new NoReplicaAvailableError(master?.shard ?? String(shard), this.unreadable(replicas));
      case "nearest":
        return this.nearest(master, readable);
      case "any":
        return this.next(master && master.admits ? [master, ...readable] : readable) ?? master;
    }
  }

  /** Why none of the shard's replicas can take a read. */
  private unreadable(replicas: readonly NodeClient[]): string {
    if (!replicas.length) return "the shard has no replicas";
    // An ACL without +info: lag cannot be measured, so no replica is trusted to be within maxReplicaLagMs.
    if (this.health.lagUnknown(replicas)) return "their replication lag is unknown: the ACL user may not run INFO (see the acl:refused event)";
    return "none is connected, caught up and not syncing";
  }

  /** Replicas fit at their last check whose connection is down for now (breaker still closed). */
  private reconnecting(replicas: readonly NodeClient[]): NodeClient[] {
    return replicas.filter((r) => !r.ready && this.health.readable(r, true));
  }

  private nearest(master: NodeClient | undefined, readable: NodeClient[]): NodeClient | undefined {
    let best = master && master.admits ? master : undefined;
    let bestLatency = best ? (this.health.of(best).latencyMs ?? Infinity) : Infinity;
    for (const replica of readable) {
      const latency = this.health.of(replica).latencyMs ?? Infinity;
      if (latency < bestLatency || !best) {
        best = replica;
        bestLatency = latency;
      }
    }
    return best ?? master;
  }

  private next(nodes: NodeClient[]): NodeClient | undefined {
    if (!nodes.length) return undefined;
    this.turn = (this.turn + 1) % 1_000_000;
    return nodes[this.turn % nodes.length];
  }
}
