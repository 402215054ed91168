/**
 * Every node the client talks to, by address: its shared connection, its
 * breaker and its pool of dedicated connections. apply(layout) makes the
 * routing tables (master and replicas per shard) match a new layout, creating
 * connections for new addresses, updating the role each connection must have,
 * handing commands queued for a replaced master to the new one, and retiring
 * nodes that left. An address that moved to another shard (a cluster
 * replica migrated to another master) is a node that left plus a new one:
 * a node is bound to its shard (name, observers, redirect hooks, near-cache
 * tracking) for life. Connections, breakers and observers come from the
 * outside (RegistryParts), so this bookkeeping is tested with fakes.
 */
import { internalCommand } from "../commands/command.js";
import { formatAddress } from "../config/address.js";
import type { ResolvedOptions } from "../config/resolve.js";
import type { Address } from "../config/types.js";
import type { ConnectionFactory } from "../connection/connection.js";
import type { Breaker, HandOver, TrackingHooks } from "../connection/context.js";
import type { ShardisCommand } from "../commands/command.js";
import type { BreakerState } from "../resilience/breaker.js";
import { NodePool } from "../connection/NodePool.js";
import { INTERNAL, NodeClient, PROBE, type Entry, type NodeContext, type NodeEvents, type NodeRole } from "../connection/NodeClient.js";
import type { CommandObserver, NodeObserver } from "../connection/observer.js";
import { isNoPermission, type AclFeatureName, type AclRefusals } from "../connection/aclRefusals.js";
import { FlushScheduler } from "../connection/scheduler.js";
import type { ReauthRegistry } from "../connection/reauth.js";
import type { Layout } from "./Topology.js";
import { SlotMovedError } from "../errors.js";

/** What a cluster replica's connections send on connect: READONLY, for the replica reads it serves. */
const REPLICA_READS: ReadonlyArray<readonly [string, AclFeatureName]> = [["readonly", "replicaReads"]];

export interface RegistryHooks {
  /** A node answered ROLE with another role than the layout gives it. */
  roleMismatch(shard: number, node: NodeClient, actual: string): void;
  /** A write got READONLY: route it (once) to the shard's master after the topology is re-read. */
  redirect(shard: number, node: NodeClient, entry: Entry): HandOver;
  /** Over a cluster: a command got MOVED or ASK from a node of this shard; send it where the reply points. */
  clusterRedirect?(shard: number, node: NodeClient, entry: Entry, kind: "moved" | "ask", address: string): HandOver;
  /** Over a cluster: a dedicated connection got MOVED (failed as SlotMovedError): the map changed. */
  slotMoved?(): void;
  /** A dedicated connection got READONLY (failed with it): its node was demoted, the topology is behind. */
  demoted?(): void;
}

/** A node's breaker with what the registry needs beyond what connections use. */
export interface ManagedBreaker extends Breaker {
  shutdown(): void;
}

/** What the registry builds nodes from. */
export interface RegistryParts {
  readonly connections: ConnectionFactory;
  /** A breaker for a node: `probe` is the PING it sends when half open, `onState` its transitions. */
  breaker(probe: () => Promise<unknown>, onState: (state: BreakerState) => void): ManagedBreaker;
  /** Where a shard's commands in a role are reported. */
  observer(shard: number, role: NodeRole): CommandObserver;
  /** Where a node's own figures go (reconnects, breaker transitions). */
  nodeObserver(shard: number, address: string): NodeObserver & { transition(state: BreakerState): void };
  /** Client tracking for the shard's nodes' shared connections (near cache on). */
  tracking?(shard: number): TrackingHooks;
  /** Sees every command written to the shard's nodes (near cache on). */
  sending?(shard: number): (cmd: ShardisCommand, tracked: boolean, connection: object) => void;
  /** Where commands of shardis's own that a node's ACL refused are reported (once per node and feature). */
  readonly refusals?: AclRefusals;
  /** Re-authentication of open connections (redis.reauthenticateEveryMs). */
  readonly reauth?: ReauthRegistry;
}

export type RegistryOptions = Pick<ResolvedOptions, "shards" | "cluster" | "pool" | "redis" | "commandTimeoutMs" | "maxQueueLength" | "maxWriteDelayMs" | "retry" | "lazyConnect">;

export interface Placement {
  readonly shard: number;
  readonly node: NodeClient;
  readonly role: NodeRole;
  readonly pool: NodePool | undefined;
}

interface Slot {
  readonly node: NodeClient;
  readonly context: NodeContext;
  readonly breaker: ManagedBreaker;
  readonly shard: number;
  pool: NodePool | undefined;
}

export class NodeRegistry {
  readonly scheduler = new FlushScheduler();
  private readonly slots = new Map<string, Slot>();
  /** Nodes that left the layout, still settling their work (closed with the rest if the client closes first). */
  private readonly retiring = new Set<Slot>();
  private masters: ReadonlyArray<NodeClient | undefined> = [];
  private isClosed = false;
  private replicas: ReadonlyArray<readonly NodeClient[]> = [];
  /** Shards whose roles matter: Sentinel-managed, given replicas, or a cluster's. Others skip the ROLE check. */
  private readonly checksRoles: (shard: number) => boolean;

  constructor(
    private readonly options: RegistryOptions,
    private readonly parts: RegistryParts,
    private readonly events: NodeEvents,
    private readonly hooks: RegistryHooks,
  ) {
    const configured = options.shards.map((s) => s.masterName !== undefined || s.replicas.length > 0);
    this.checksRoles = options.cluster ? () => true : (shard) => configured[shard] ?? false;
  }

  /** close() was called: no node, pool or connection is made any more. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** How many shards the layout has (a cluster's grow). */
  get shardCount(): number {
    return this.masters.length;
  }

  /** The node at this address, if it is in the layout. */
  nodeAt(address: string): NodeClient | undefined {
    return this.slots.get(address)?.node;
  }

  master(shard: number): NodeClient | undefined {
    return this.masters[shard];
  }

  replicasOf(shard: number): readonly NodeClient[] {
    return this.replicas[shard] ?? [];
  }

  /** Every node currently in the layout. */
  nodes(): NodeClient[] {
    return [...this.slots.values()].map((s) => s.node);
  }

  /** Every node in the layout with its shard, role now, and pool (for metrics). */
  placements(): Placement[] {
    return [...this.slots.values()].map((slot) => ({
      shard: slot.shard,
      node: slot.node,
      role: this.masters[slot.shard] === slot.node ? "master" : "replica",
      pool: slot.pool,
    }));
  }

  /** Makes the routing tables match the layout; returns the shards whose master changed. */
  apply(layout: Layout): number[] {
    const live = new Set<string>();
    const moved: Slot[] = [];
    const place = (shard: number, address: Address, role: NodeRole) => {
      const key = formatAddress(address);
      live.add(key);
      let slot = this.slots.get(key);
      if (slot && (slot.shard !== shard || slot.node.shard !== layout.names[shard])) {
        // Re-placed into another shard: retired below, once queued commands were handed over; a new node serves the new shard.
        moved.push(slot);
        slot = undefined;
      }
      slot ??= this.create(shard, layout.names[shard]!, address, role);
      // Reported under the role it serves now: a promoted replica's commands count as the master's.
      slot.context.observer = this.parts.observer(shard, role);
      const next = this.checksRoles(shard) ? role : undefined;
      if (slot.context.role !== next) {
        const placed = slot.context.role !== undefined;
        slot.context.role = next;
        slot.node.roleChanged();
        slot.pool?.roleChanged();
        // A new node's connection says it on connect; one already placed says it now.
        if (this.options.cluster && placed) this.readMode(slot);
      }
      return slot.node;
    };
    const masters = layout.shards.map((s, i) => (s.master ? place(i, s.master, "master") : undefined));
    const replicas = layout.shards.map((s, i) => s.replicas.map((r) => place(i, r, "replica")));
    const previous = this.masters;
    this.masters = masters;
    this.replicas = replicas;

    const changed: number[] = [];
    masters.forEach((master, shard) => {
      const before = previous[shard];
      if (before === master) return;
      changed.push(shard);
      // Commands that waited for the old master (never written) go to the new one.
      if (before && master) before.handOverQueued(master);
    });
    for (const [key, slot] of this.slots) {
      if (live.has(key)) continue;
      this.slots.delete(key);
      void this.retire(slot);
    }
    for (const slot of moved) {
      // Reads that waited for a migrated replica are its old shard's: its master answers them.
      const master = masters[slot.shard];
      if (master) slot.node.handOverQueued(master);
      void this.retire(slot);
    }
    return changed;
  }

  /** The pool of dedicated connections to the shard's master (created on first need). */
  pool(shard: number): NodePool | undefined {
    if (this.isClosed) return undefined;
    const master = this.masters[shard];
    const slot = master && this.slots.get(master.id);
    if (!slot) return undefined;
    slot.pool ??= new NodePool(this.dedicated(master), this.options.pool, this.options.redis.connectTimeout ?? this.options.pool.acquireTimeoutMs);
    return slot.pool;
  }

  /** How to open a dedicated (pooled or subscriber) connection to this node, sharing its breaker, role and observer. */
  dedicated(node: NodeClient) {
    // A view, not a copy: the role and observer follow the layout. Blocking commands go unanswered for long: no stall watch.
    // Cluster redirects are not followed here (a blocking command must not land on a shared connection, a WATCH lives on
    // this node): the command fails with SlotMovedError, which the executor re-routes where it may (blocking, write concern).
    // Tracking stays on the shared connection: the near cache trusts one connection per node.
    const moved = (n: NodeClient, entry: Entry, kind: "moved" | "ask", address: string, slot: number) => {
      if (kind === "moved") this.hooks.slotMoved?.();
      entry.fail(new SlotMovedError(n.shard, n.id, slot, address, kind === "moved" ? "MOVED" : "ASK"));
    };
    // Nor is READONLY: the shard's new master would get the command on its shared connection (a BLPOP there blocks every
    // caller of the shard). It fails with Redis's reply, and the executor sends it again on a pooled connection where it may.
    const demoted = (_n: NodeClient, entry: Entry, error: Error) => {
      this.hooks.demoted?.();
      entry.fail(error);
    };
    const context = Object.create(node.context, {
      detectStalls: { value: false },
      // A borrowed or subscriber connection is opened for the call that needs it: that call waits for its connect.
      offlineQueue: { value: undefined },
      redirect: { value: demoted },
      clusterRedirect: { value: this.options.cluster ? moved : undefined },
      tracking: { value: undefined },
    }) as NodeContext;
    return { shard: node.shard, address: node.address, connections: this.parts.connections, scheduler: this.scheduler, events: this.events, context };
  }

  connect(): void {
    for (const slot of this.slots.values()) slot.node.connect();
  }

  /** Lets accepted commands settle for up to timeoutMs, then closes every connection. */
  async close(timeoutMs: number): Promise<void> {
    this.isClosed = true;
    const slots = [...this.slots.values(), ...this.retiring];
    await Promise.all(slots.map((slot) => slot.pool?.close(timeoutMs)));
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const drained = Promise.all(slots.map((slot) => slot.node.drain())).then(() => true);
    const clean = await Promise.race([drained, waited]);
    clearTimeout(timer);
    await Promise.all(slots.map((slot) => slot.node.close(!clean)));
    for (const slot of slots) slot.breaker.shutdown();
  }

  private create(shard: number, name: string, address: Address, role: NodeRole): Slot {
    const id = formatAddress(address);
    let node: NodeClient | undefined;
    // An ACL that refuses PING still proves the node up and answering: its NOPERM closes the breaker as a PONG would.
    const probe = () =>
      node!.send(internalCommand("ping"), this.options.commandTimeoutMs, PROBE).catch((error: unknown) => {
        if (isNoPermission(error)) return "PONG";
        throw error;
      });
    const nodeObserver = this.parts.nodeObserver(shard, id);
    const breaker = this.parts.breaker(probe, (state) => {
      nodeObserver.transition(state);
      this.events.breaker(name, id, state);
    });
    const context: NodeContext = {
      breaker,
      maxQueueLength: this.options.maxQueueLength,
      maxWriteDelayMs: this.options.maxWriteDelayMs,
      retry: this.options.retry,
      // ioredis's rules for commands waiting for a connection (connection/waiting.ts).
      offlineQueue: this.options.redis.enableOfflineQueue,
      maxRetriesPerRequest: this.options.redis.maxRetriesPerRequest,
      detectStalls: true,
      role: undefined,
      onRoleMismatch: (n, actual) => this.hooks.roleMismatch(shard, n, actual),
      // An ACL's refusal is reported once per node and feature; another error reply (a proxy without ROLE) as the node's error.
      refused: (n, feature, error) => {
        // A master serves reads without READONLY: its refusal costs nothing (a master demoted later says READONLY again when it reconnects).
        if (feature === "replicaReads" && n.context.role === "master") return;
        if (!this.parts.refusals?.refused(n, feature, error)) this.events.error(n, error);
      },
      redirect: (n, entry) => this.hooks.redirect(shard, n, entry),
      observer: this.parts.observer(shard, role),
      nodeObserver,
      tracking: this.parts.tracking?.(shard),
      sending: this.parts.sending?.(shard),
      reauth: this.parts.reauth,
      ...(this.options.cluster
        ? {
            clusterRedirect: (n: NodeClient, entry: Entry, kind: "moved" | "ask", address: string) =>
              this.hooks.clusterRedirect?.(shard, n, entry, kind, address),
          }
        : {}),
    };
    if (this.options.cluster) {
      // Cluster replicas serve reads only on connections that said READONLY. A master's must not say it: once the
      // cluster demotes it (before the map says so) it would answer reads meant for the master from its copy, not MOVED.
      Object.defineProperty(context, "onConnect", { get: () => (context.role === "replica" ? REPLICA_READS : []) });
    }
    node = new NodeClient({ shard: name, address, connections: this.parts.connections, scheduler: this.scheduler, events: this.events, context });
    const slot: Slot = { node, context, breaker, shard, pool: undefined };
    this.slots.set(id, slot);
    if (!this.options.lazyConnect) node.connect();
    return slot;
  }

  /** Over a cluster, a node's shared connection says READONLY while the node is a replica, READWRITE while a master (see create()). */
  private readMode(slot: Slot): void {
    const mode = slot.context.role === "replica" ? "readonly" : "readwrite";
    // Even while the breaker is open (PROBE): the connection stays up behind it, and a master's connection left in
    // READONLY would serve reads from its copy once the cluster demotes it. A connection lost meanwhile says it on connect.
    slot.node.send(internalCommand(mode), this.options.commandTimeoutMs, INTERNAL | PROBE).catch((error: unknown) => {
      if (isNoPermission(error)) slot.context.refused?.(slot.node, "replicaReads", error);
    });
  }

  /** A node that left the layout: its work settles within deadlines, then it closes. */
  private async retire(slot: Slot): Promise<void> {
    this.retiring.add(slot);
    await slot.pool?.close(this.options.commandTimeoutMs);
    await slot.node.drain();
    await slot.node.close();
    slot.breaker.shutdown();
    this.retiring.delete(slot);
  }
}

