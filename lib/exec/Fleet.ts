/**
 * The live fleet: the layout (TopologyHolder), where it comes from (static
 * options, SentinelClient), the connections that serve it (NodeRegistry),
 * replica health (HealthMonitor) and read placement (ReadRouter), wired so a
 * layout change reaches every part at once.
 */
import type { ResolvedOptions } from "../config/resolve.js";
import { DEFAULTS } from "../config/defaults.js";
import type { Address } from "../config/types.js";
import type { Entry, NodeClient, NodeEvents } from "../connection/NodeClient.js";
import { NodeRegistry } from "../topology/NodeRegistry.js";
import type { ConnectionFactory } from "../connection/connection.js";
import { NodeBreaker } from "../resilience/breaker.js";
import { ClientClosedError, ClusterError } from "../errors.js";
import { ClusterLink } from "./ClusterLink.js";
import { Meters } from "../metrics/meters.js";
import { ClientTracing } from "../metrics/clientTracing.js";
import { readFigures, type Figures } from "../metrics/figures.js";
import { nearCacheStats } from "../metrics/nearCacheStats.js";
import { ServerStats } from "../metrics/serverStats.js";
import { HealthMonitor } from "../replicas/HealthMonitor.js";
import { ReadRouter } from "../replicas/ReadRouter.js";
import { SentinelClient } from "../sentinel/SentinelClient.js";
import { AddressPolicy } from "../topology/addressPolicy.js";
import { initialLayout, sameSlots, serving, type Layout, type NodeView, type TopologySnapshot } from "../topology/Topology.js";
import { TopologyHolder, type LayoutSource } from "../topology/TopologyHolder.js";
import { formatAddress } from "../config/address.js";
import { HotKeyDetector } from "../hotkeys/HotKeys.js";
import { NearCacheLink } from "./NearCacheLink.js";
import { AclRefusals } from "../connection/aclRefusals.js";
import { Reauthenticator } from "../connection/reauth.js";
import type { NoPermissionError } from "../errors.js";

/** What the fleet is built from besides options: injected so tests can run it on fakes. */
export interface FleetParts {
  /** Opens node connections (ioredis by default). */
  readonly connections: ConnectionFactory;
  /** Where layouts come from instead of Sentinel (tests simulate topology changes with it). */
  readonly source?: LayoutSource;
  /** What the client's traces carry (the client itself, its database, arguments or not). */
  readonly tracing?: ClientTracing;
}

export interface FleetEvents {
  /** A new layout took effect. */
  topology(epoch: number, reason: string): void;
  /** A shard's master moved from one node to another. */
  failover(shard: string, from: string, to: string): void;
  /** A sentinel reported an address the policy refused. */
  refused(shard: string, address: string, reason: string): void;
  sentinelError(sentinel: string, error: Error): void;
  /** A cluster node could not be asked for the map, or answered with an error. */
  clusterError(node: string, error: Error): void;
  /** Shards whose master changed (subscriptions must follow). */
  mastersChanged(shards: number[]): void;
  /** The near cache could not turn tracking on for a shard: it does not cache there. */
  nearCacheError(shard: string, error: Error): void;
  /** A node's ACL refused a command of shardis's own: its feature degrades there (once per node and feature). */
  aclRefused(error: NoPermissionError): void;
}

/**
 * Where a test may hand the client a layout source of its own (not part of
 * the public options): how it simulates a topology change that neither
 * Sentinel nor the nodes announce.
 */
export const LAYOUT_SOURCE = Symbol("shardis.layoutSource");

/**
 * Where a test may hand the client a connection factory of its own (not
 * part of the public options): the deterministic simulation runs the whole
 * client on simulated connections this way.
 */
export const CONNECTION_FACTORY = Symbol("shardis.connectionFactory");

export class Fleet {
  /** Every count the client keeps (commands, hits, reconnects, failovers), read by stats() and the exporter. */
  readonly meters: Meters;
  readonly registry: NodeRegistry;
  readonly holder: TopologyHolder;
  readonly health: HealthMonitor;
  readonly reads: ReadRouter;
  /** Every node's INFO on a timer, when metrics ask for it. */
  readonly serverStats: ServerStats | undefined;
  private readonly sentinel: SentinelClient | undefined;
  private readonly cluster: ClusterLink | undefined;
  /** The streaming top-k of keys per shard; undefined with `hotKeys: false`. */
  readonly hotKeys: HotKeyDetector | undefined;
  /** The near cache and its tracking; undefined unless `nearCache` is set. */
  readonly near: NearCacheLink | undefined;
  /** Commands of shardis's own that nodes' ACLs refused, reported once per node and feature. */
  readonly refusals: AclRefusals;
  /** Re-authenticates open connections (redis.credentials with reauthenticateEveryMs); undefined otherwise. */
  private readonly reauth: Reauthenticator | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    nodeEvents: NodeEvents,
    private readonly events: FleetEvents,
    parts: FleetParts,
  ) {
    this.meters = new Meters(
      options.shards.map((s) => s.name),
      options.metrics?.latencyBuckets ?? DEFAULTS.metrics.latencyBuckets,
      DEFAULTS.metrics.batchBuckets,
      parts.tracing ?? new ClientTracing(this, options.redis.db ?? 0, options.tracing.includeArgs),
    );
    const meters = this.meters;
    // The fix a refusal names is for the user the client connects as ("default" when only a password is set).
    this.refusals = new AclRefusals(options.redis.username ?? "default", (error) => events.aclRefused(error), options.sentinelOptions.username ?? "default");
    this.hotKeys = options.hotKeys && new HotKeyDetector(options.hotKeys);
    const near = options.nearCache
      ? new NearCacheLink(options.nearCache, {
          master: (shard) => this.registry.master(shard),
          refused: (shard, node, error) => this.refusals.refused(node, "nearCache", error) || events.nearCacheError(this.shardName(shard), error),
          ...(this.hotKeys && { hot: this.hotKeys }),
        })
      : undefined;
    this.near = near;
    const { credentials, reauthenticateEveryMs } = options.redis;
    // A refused AUTH is the node's error, as a refused handshake is (an AuthenticationError naming node and user).
    this.reauth = credentials && reauthenticateEveryMs ? new Reauthenticator(reauthenticateEveryMs, credentials, options.commandTimeoutMs, { failed: nodeEvents.error }) : undefined;
    // Over a cluster, a lost connection may be a master going away: re-read the map until it settles.
    const watched: NodeEvents = options.cluster ? { ...nodeEvents, down: (node, cause) => (this.cluster?.nodeDown(), nodeEvents.down(node, cause)) } : nodeEvents;
    this.registry = new NodeRegistry(
      options,
      {
        connections: parts.connections,
        breaker: (probe, onState) => new NodeBreaker(options.breaker, probe, onState),
        observer: (shard, role) => meters.role(shard, role),
        nodeObserver: (shard, address) => meters.node(shard, address),
        refusals: this.refusals,
        reauth: this.reauth,
        ...(near && { tracking: (shard: number) => near.tracking(shard), sending: (shard: number) => near.sending(shard) }),
      },
      watched,
      {
        roleMismatch: () => void this.holder.refresh("a node's ROLE differs from the layout"),
        redirect: (shard, node, entry) => this.redirect(shard, node, entry),
        clusterRedirect: (shard, _node, entry, kind, address) => {
          this.meters.shards[shard]!.redirects[kind]++;
          return this.cluster!.redirect(entry, kind, address);
        },
        slotMoved: () => void this.holder.refresh("MOVED on a dedicated connection"),
        demoted: () => void this.holder.refresh("READONLY on a dedicated connection"),
      },
    );
    const source = parts.source;
    const policy = new AddressPolicy(options.natMap, options.allowedAddresses);
    this.cluster = options.cluster
      ? new ClusterLink(options, {
          connections: parts.connections,
          scheduler: this.registry.scheduler,
          registry: this.registry,
          holder: () => this.holder,
          policy,
          reauth: this.reauth,
          events: {
            refused: (shard, address, reason) => events.refused(shard, address, reason),
            error: (node, error) => events.clusterError(node, error),
          },
        })
      : undefined;
    const byMasterName = new Map(options.shards.map((s, i) => [s.masterName, i] as const));
    this.sentinel = options.sentinels.length
      ? new SentinelClient(
          options.sentinels,
          { ...options.sentinelOptions, commandTimeoutMs: DEFAULTS.sentinel.commandTimeoutMs },
          options.shards,
          policy,
          {
            switched: (name, address) => this.switched(byMasterName.get(name)!, address),
            changed: (channel) => void this.holder.refresh(channel),
            watching: () => void this.holder.refresh("sentinel watch (re)established"),
            error: (sentinel, error) => events.sentinelError(sentinel, error),
            refused: (name, address, reason) => events.refused(options.shards[byMasterName.get(name)!]!.name, address, reason),
            aclRefused: (name, sentinel, feature, error) => this.refusals.refused({ shard: options.shards[byMasterName.get(name)!]!.name, id: sentinel }, feature, error),
          },
        )
      : undefined;
    this.holder = new TopologyHolder(
      initialLayout(options.shards, options.cluster !== undefined),
      source ?? this.sentinel ?? this.cluster?.source,
      { cooldownMs: DEFAULTS.refreshCooldownMs, intervalMs: options.topologyRefreshMs },
      (previous, next, reason) => this.changed(previous, next, reason),
      // Sentinel discovery reports its own failures per sentinel; what reaches here is unexpected, named after the sentinel asked.
      // The cluster's failures were reported per node, as it asked them.
      (error) => this.sentinel && events.sentinelError(this.sentinel.current, error),
    );
    this.registry.apply(this.holder.current);
    const hasReplicas = options.shards.some((s) => s.masterName !== undefined || s.replicas.length > 0) || options.cluster !== undefined;
    this.health = new HealthMonitor(this.registry, {
      intervalMs: options.healthCheckIntervalMs,
      maxReplicaLagMs: options.maxReplicaLagMs,
      timeoutMs: options.commandTimeoutMs,
      allMasters: options.readFrom === "nearest",
      refusals: this.refusals,
      // A replica that says it is a master was promoted: the layout is behind.
      promoted: () => void this.holder.refresh("a replica reports it is a master"),
    });
    // A released shard has no nodes: its reads go the way of its master's (ShardReleasedError), whatever the policy.
    this.reads = new ReadRouter(this.registry, this.health, (shard) => this.holder.current.shards[shard]?.released === true);
    if (source ?? this.sentinel ?? this.cluster) this.holder.start();
    this.reauth?.start();
    this.sentinel?.watch();
    if (hasReplicas || options.readFrom === "nearest") this.health.start();
    if (options.metrics && options.metrics.serverStatsIntervalMs > 0) {
      this.serverStats = new ServerStats(this.registry, options.metrics.serverStatsIntervalMs, options.commandTimeoutMs, this.refusals);
      this.serverStats.start();
    }
  }

  /** One reading of the client's counts and every node's state (metrics scrape, stats()). */
  figures(): Figures {
    return readFigures({
      meters: this.meters,
      registry: this.registry,
      health: this.health,
      server: this.serverStats,
      hot: this.hotKeys && {
        keys: this.hotKeys.hotKeys(this.shardName),
        loads: this.hotKeys.loads(this.shardName),
        keyLabels: this.options.metrics?.hotKeyLabels ?? false,
      },
      near: this.near && nearCacheStats(this.near.cache.stats(), this.shardName).shards,
    });
  }

  /** A shard's name in the current layout, by index (an arrow: the hot-key reports take it as is). */
  readonly shardName = (index: number): string => this.holder.current.names[index] ?? "(no shard)";

  /** The shards that serve, by index: all but those a plain fleet released (each keeps its index) or a reconfigure() still waits for (docs/scaling.md). */
  live(): number[] {
    return this.holder.current.shards.flatMap((s, i) => (serving(s) ? [i] : []));
  }

  /** Their names, in index order (what an unknown shard name is told it could be). */
  liveNames(): string[] {
    return this.live().map(this.shardName);
  }

  /** The layout and each node's health, now, as an immutable snapshot (released and pending shards left out). */
  snapshot(): TopologySnapshot {
    const layout = this.holder.current;
    const view = (node: NodeClient | undefined, role: "master" | "replica"): NodeView | null => {
      if (!node) return null;
      const health = this.health.of(node);
      return Object.freeze({
        address: node.id,
        role,
        connected: node.ready,
        breaker: node.context.breaker.state,
        latencyMs: health.latencyMs === null ? null : Math.round(health.latencyMs * 1000) / 1000,
        lagMs: role === "replica" ? health.lagMs : null,
        readable: role === "replica" ? this.health.readable(node) : false,
      });
    };
    const slots = layout.slots && slotCounts(layout.slots, layout.names.length);
    return Object.freeze({
      epoch: layout.epoch,
      sentinels: Object.freeze([...this.sentinels]),
      shards: Object.freeze(
        layout.names.flatMap((name, i) =>
          !serving(layout.shards[i]) ? [] : Object.freeze({
            name,
            master: view(this.registry.master(i), "master"),
            replicas: Object.freeze(this.registry.replicasOf(i).map((r) => view(r, "replica")!)),
            ...(slots && { slots: slots[i]! }),
          }),
        ),
      ),
    });
  }

  /** Sentinels known now (configured and learned). */
  get sentinels(): readonly string[] {
    return this.sentinel?.known ?? [];
  }

  /** The error of a command whose slot no shard serves (cluster): why there is no map. */
  unmapped(timeoutMs: number | undefined): ClusterError {
    return this.cluster?.unmapped(timeoutMs) ?? new ClusterError("no shard served the key's slot");
  }

  /** Over a cluster: the node a MOVED or ASK reply names (the map re-read when it is new); ClusterError when refused or unknown. */
  clusterNode(kind: "moved" | "ask", reported: string): Promise<NodeClient> {
    return this.cluster ? this.cluster.nodeNamed(kind, reported) : Promise.reject(new ClusterError(`a ${kind.toUpperCase()} reply, but the client is not over a cluster`));
  }

  /** Over a cluster: the shard whose master is the node a MOVED or ASK reply names. */
  async shardOfNode(kind: "moved" | "ask", reported: string): Promise<number> {
    const node = await this.clusterNode(kind, reported);
    const shard = this.registry.placements().find((p) => p.node === node && p.role === "master")?.shard;
    if (shard === undefined) throw new ClusterError(`redirected (${kind.toUpperCase()}) to ${node.id}, which is not a master in the cluster's map`, node.id);
    return shard;
  }

  async close(timeoutMs: number): Promise<void> {
    this.holder.stop();
    this.reauth?.stop();
    this.health.stop();
    this.serverStats?.stop();
    this.hotKeys?.close();
    this.sentinel?.close();
    await Promise.all([this.registry.close(timeoutMs), this.cluster?.close()]);
  }

  private switched(shard: number, address: Address): void {
    this.holder.setMaster(shard, address, "+switch-master");
    // The announcement names the master only; read the replicas again.
    void this.holder.refresh("+switch-master");
  }

  private changed(previous: Layout, next: Layout, reason: string): void {
    // A cluster's new shards get their meters before their first connection reports.
    this.meters.ensure(next.names);
    const changed = this.registry.apply(next);
    this.cluster?.retain(next);
    next.shards.forEach((shard, i) => {
      const before = previous.shards[i];
      if (before && shardKey(shard) !== shardKey(before)) this.meters.shards[i]!.topologyChanges++;
    });
    this.events.topology(next.epoch, reason);
    for (const shard of changed) {
      const from = previous.shards[shard]?.master;
      const to = next.shards[shard]!.master;
      if (!from || !to) continue;
      this.meters.shards[shard]!.failovers++;
      this.events.failover(next.names[shard]!, formatAddress(from), formatAddress(to));
    }
    if (changed.length) this.events.mastersChanged(changed);
    if (this.near) {
      // A cluster's slots moved: keys may have changed shard, and a domain only hears about its own node's keys.
      if (previous.slots && !sameSlots(next.slots, previous.slots)) next.names.forEach((_, i) => this.near!.cache.flush(i, "topology", this.near!.cache.tracking(i)));
      this.near.mastersChanged(changed, (shard) => previous.shards[shard]?.master !== undefined);
    }
    void this.health.check();
  }

  /** A write hit a demoted master: re-read the topology, then send it (once) where the master is now. */
  private redirect(shard: number, node: NodeClient, entry: Entry): Promise<void> {
    return this.holder.refresh("READONLY reply").then(() => {
      // Closing: the master is closing too, and a closed node would keep the command unanswered.
      if (this.registry.closed) entry.fail(new ClientClosedError());
      else (this.registry.master(shard) ?? node).adopt(entry);
    });
  }
}

/** A shard's place in a layout (master and replicas), to tell whether it changed. */
function shardKey(shard: Layout["shards"][number]): string {
  return [shard.master ? formatAddress(shard.master) : "", ...shard.replicas.map(formatAddress)].join(",");
}

/** How many slots each shard serves, by shard index. */
function slotCounts(owners: Uint16Array, shards: number): number[] {
  const counts = new Array<number>(shards).fill(0);
  for (const owner of owners) if (owner < shards) counts[owner]!++;
  return counts;
}
