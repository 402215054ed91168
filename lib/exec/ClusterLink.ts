/**
 * What keeps the client in step with a Redis Cluster: the topology source
 * (asking nodes over connections of its own), redirects (MOVED: to the node
 * named, and the map re-read; ASK: ASKING there, for that command only), and
 * re-reading the map while a master is unreachable, so a failover inside
 * the cluster is followed as soon as a replica takes over. It asks only
 * nodes of the current map (connections to nodes that left it are closed)
 * and nothing once closed: a connection opened then would outlive quit().
 */
import { internalCommand } from "../commands/command.js";
import { formatAddress, parseAddress } from "../config/address.js";
import type { ResolvedOptions } from "../config/resolve.js";
import type { Address } from "../config/types.js";
import { ClusterSource, type ClusterEvents, type ClusterPort } from "../cluster/ClusterSource.js";
import type { ConnectionFactory } from "../connection/connection.js";
import { INTERNAL, NEVER_OPENS, NodeClient, type Entry, type NodeEvents } from "../connection/NodeClient.js";
import { IGNORE } from "../connection/observer.js";
import type { FlushScheduler } from "../connection/scheduler.js";
import type { ReauthRegistry } from "../connection/reauth.js";
import { ClientClosedError, ClusterError } from "../errors.js";
import type { AddressPolicy } from "../topology/addressPolicy.js";
import type { NodeRegistry } from "../topology/NodeRegistry.js";
import type { Layout } from "../topology/Topology.js";
import type { TopologyHolder } from "../topology/TopologyHolder.js";

/** How often the map is re-read while a master is unreachable (a failover inside the cluster is under way), in ms. */
const OUTAGE_REFRESH_MS = 100;

/** Connections that ask cluster nodes for the map: no breaker (the answer is what matters), nothing counted. */
const QUIET_EVENTS: NodeEvents = { ready: () => undefined, down: () => undefined, error: () => undefined, breaker: () => undefined };

export interface ClusterLinkParts {
  readonly connections: ConnectionFactory;
  readonly scheduler: FlushScheduler;
  readonly registry: NodeRegistry;
  readonly holder: () => TopologyHolder;
  readonly policy: AddressPolicy;
  readonly events: ClusterEvents;
  /** Control connections re-authenticate with the others (redis.reauthenticateEveryMs). */
  readonly reauth?: ReauthRegistry;
}

export class ClusterLink {
  readonly source: ClusterSource;
  private readonly control = new Map<string, NodeClient>();
  private outage: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly parts: ClusterLinkParts,
  ) {
    const ask: ClusterPort = { ask: (address, args) => this.ask(address, args) };
    this.source = new ClusterSource(options.cluster!.seeds, ask, parts.policy, parts.events, options.redis.tls !== undefined);
  }

  /** The error of a command that found no shard serving its slot (within timeoutMs; undefined: by its deadline). */
  unmapped(timeoutMs: number | undefined): ClusterError {
    const why = this.source.lastError;
    const when = timeoutMs === undefined ? "by the command's deadline" : `within ${timeoutMs} ms`;
    return new ClusterError(
      why ? `no slot map ${when}: ${why.message}` : `no shard served the key's slot ${when}`,
      why?.node,
      why,
    );
  }

  /** A command answered MOVED or ASK: send it to the node named (re-reading the map first when that node is new). */
  redirect(entry: Entry, kind: "moved" | "ask", reported: string): void | Promise<void> {
    // Closing: the nodes it could go to are closing too, and would never answer it.
    if (this.closed) return entry.fail(new ClientClosedError());
    const holder = this.parts.holder();
    // MOVED means the map changed: re-read it (coalesced with every other redirect of the moment).
    const refreshed = kind === "moved" ? holder.refresh("MOVED") : undefined;
    const address = this.admitted(kind, reported);
    if (typeof address !== "string") return entry.fail(address);
    const target = this.parts.registry.nodeAt(address);
    if (target) return target.adopt(entry, kind === "ask");
    return (refreshed ?? holder.refresh("ASK to a node not in the map")).then(() => {
      if (this.closed) return entry.fail(new ClientClosedError());
      const found = this.parts.registry.nodeAt(address);
      if (found) found.adopt(entry, kind === "ask");
      else entry.fail(new ClusterError(`redirected (${kind.toUpperCase()}) to ${address}, a node not in the cluster's map`, address));
    });
  }

  /**
   * The node a MOVED or ASK reply names, for a command that cannot be handed
   * over as an entry (a block, a pooled connection's command); the map is
   * re-read first when the node is not in it. Rejects with ClusterError
   * (ClientClosedError once the client is closing).
   */
  async nodeNamed(kind: "moved" | "ask", reported: string): Promise<NodeClient> {
    if (this.closed) throw new ClientClosedError();
    const address = this.admitted(kind, reported);
    if (typeof address !== "string") throw address;
    const known = this.parts.registry.nodeAt(address);
    if (known) return known;
    await this.parts.holder().refresh(kind === "moved" ? "MOVED" : "ASK to a node not in the map");
    if (this.closed) throw new ClientClosedError();
    const found = this.parts.registry.nodeAt(address);
    if (!found) throw new ClusterError(`redirected (${kind.toUpperCase()}) to ${address}, a node not in the cluster's map`, address);
    return found;
  }

  /** The node a redirect names as the client reaches it ("host:port"), mapped and checked like every address the cluster reports. */
  private admitted(kind: "moved" | "ask", reported: string): string | ClusterError {
    const parsed = parseAddress(reported);
    const admitted = parsed.ok ? this.parts.policy.admit(parsed.address) : { ok: false as const, reason: parsed.problem };
    if (!admitted.ok) return new ClusterError(`redirected (${kind.toUpperCase()}) to ${reported}, which was refused: ${admitted.reason}`, reported);
    return formatAddress(admitted.address);
  }

  /** A connection went down: while a master is unreachable, re-read the map often, to see a replica take over. */
  nodeDown(): void {
    if (this.outage || this.closed) return;
    this.outage = setInterval(() => {
      const registry = this.parts.registry;
      const down = Array.from({ length: registry.shardCount }, (_, i) => registry.master(i)).some((m) => m !== undefined && !m.ready);
      if (!down) {
        clearInterval(this.outage);
        this.outage = undefined;
        return;
      }
      void this.parts.holder().refresh("a master is unreachable");
    }, OUTAGE_REFRESH_MS);
    this.outage.unref();
  }

  /** A new layout: connections kept for asking nodes it no longer names (removed, failed over and gone) are closed. */
  retain(layout: Layout): void {
    const named = new Set(layout.shards.flatMap((s) => [s.master, ...s.replicas].flatMap((a) => (a ? [formatAddress(a)] : []))));
    for (const [key, node] of this.control) {
      if (named.has(key)) continue;
      this.control.delete(key);
      void node.close();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.outage);
    this.outage = undefined;
    const control = [...this.control.values()];
    this.control.clear();
    await Promise.all(control.map((node) => node.close(true)));
  }

  /** CLUSTER <args> on one node, over a connection kept for asking it. */
  private async ask(address: Address, args: string[]): Promise<unknown> {
    // A refresh still running when the client closes must not open a connection nobody will close.
    if (this.closed) throw new ClientClosedError();
    const key = formatAddress(address);
    let node = this.control.get(key);
    if (!node) {
      node = new NodeClient({
        shard: "cluster",
        address,
        connections: this.parts.connections,
        scheduler: this.parts.scheduler,
        events: QUIET_EVENTS,
        context: {
          breaker: NEVER_OPENS,
          maxQueueLength: 16,
          maxWriteDelayMs: Infinity,
          retry: { ...this.options.retry, attempts: 0 },
          detectStalls: false,
          role: undefined,
          observer: IGNORE,
          nodeObserver: IGNORE,
          reauth: this.parts.reauth,
        },
      });
      this.control.set(key, node);
    }
    try {
      return await node.send(internalCommand("cluster", args), this.options.commandTimeoutMs, INTERNAL);
    } catch (error) {
      // Cut by close(): not the node's fault.
      throw this.closed ? new ClientClosedError() : error;
    }
  }
}
