/**
 * Every node the client talks to, by address: its shared connection, its
 * breaker and its pool of dedicated connections. apply(layout) makes the
 * routing tables (master and replicas per shard) match a new layout, creating
 * connections for new addresses, updating the role each connection must have,
 * handing commands queued for a replaced master to the new one, and retiring
 * nodes that left.
 */
import { Command } from "ioredis";
import { formatAddress } from "../config/address.js";
import type { ResolvedOptions } from "../config/resolve.js";
import type { Address } from "../config/types.js";
import type { Meters } from "../metrics/meters.js";
import { NodePool } from "../pool/NodePool.js";
import { NodeBreaker, type BreakerState } from "../resilience/breaker.js";
import type { Layout } from "../topology/Topology.js";
import { NodeClient, PROBE, type Entry, type NodeContext, type NodeEvents, type NodeRole } from "./NodeClient.js";
import { FlushScheduler } from "./scheduler.js";

export interface RegistryHooks {
  /** A node answered ROLE with another role than the layout gives it. */
  roleMismatch(shard: number, node: NodeClient, actual: string): void;
  /** A write got READONLY: route it (once) to the shard's master after the topology is re-read. */
  redirect(shard: number, node: NodeClient, entry: Entry): void;
}

export interface Placement {
  readonly shard: number;
  readonly node: NodeClient;
  readonly role: NodeRole;
  readonly pool: NodePool | undefined;
}

interface Slot {
  readonly node: NodeClient;
  readonly context: NodeContext;
  readonly shard: number;
  pool: NodePool | undefined;
}

export class NodeRegistry {
  readonly scheduler = new FlushScheduler();
  private readonly slots = new Map<string, Slot>();
  private masters: ReadonlyArray<NodeClient | undefined> = [];
  private replicas: ReadonlyArray<readonly NodeClient[]> = [];
  /** Shards whose roles matter: Sentinel-managed, or given replicas. Others skip the ROLE check. */
  private readonly checksRoles: readonly boolean[];

  constructor(
    private readonly options: ResolvedOptions,
    private readonly events: NodeEvents,
    private readonly hooks: RegistryHooks,
    private readonly meters: Meters,
  ) {
    this.checksRoles = options.shards.map((s) => s.masterName !== undefined || s.replicas.length > 0);
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

  breaker(node: NodeClient): NodeBreaker {
    return node.context.breaker;
  }

  /** Makes the routing tables match the layout; returns the shards whose master changed. */
  apply(layout: Layout): number[] {
    const live = new Set<string>();
    const place = (shard: number, address: Address, role: NodeRole) => {
      const key = formatAddress(address);
      live.add(key);
      const slot = this.slots.get(key) ?? this.create(shard, address, role);
      // Counted under the role it serves now: a promoted replica's commands count as the master's.
      slot.context.meter = this.meters.role(shard, role);
      const next = this.checksRoles[shard] ? role : undefined;
      if (slot.context.role !== next) {
        slot.context.role = next;
        slot.node.roleChanged();
        slot.pool?.roleChanged();
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
    return changed;
  }

  /** The pool of dedicated connections to the shard's master (created on first need). */
  pool(shard: number): NodePool | undefined {
    const master = this.masters[shard];
    const slot = master && this.slots.get(master.id);
    if (!slot) return undefined;
    slot.pool ??= new NodePool(
      master.shard,
      master.address,
      master.id,
      this.options.redis,
      this.options.pool,
      this.scheduler,
      this.events,
      this.dedicatedContext(master),
    );
    return slot.pool;
  }

  /** What a dedicated (pooled or subscriber) connection to this node shares with its shared one. */
  dedicatedContext(node: NodeClient): NodeContext {
    const shared = node.context;
    // A view, not a copy: the role follows the layout. Blocking commands go unanswered for long: no stall watch.
    return Object.create(shared, { detectStalls: { value: false } }) as NodeContext;
  }

  connect(): void {
    for (const slot of this.slots.values()) slot.node.connect();
  }

  /** Lets accepted commands settle for up to timeoutMs, then closes every connection. */
  async close(timeoutMs: number): Promise<void> {
    const slots = [...this.slots.values()];
    await Promise.all(slots.map((slot) => slot.pool?.close()));
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const drained = Promise.all(slots.map((slot) => slot.node.drain())).then(() => true);
    const clean = await Promise.race([drained, waited]);
    clearTimeout(timer);
    await Promise.all(slots.map((slot) => slot.node.close(!clean)));
    for (const slot of slots) slot.context.breaker.shutdown();
  }

  private create(shard: number, address: Address, role: NodeRole): Slot {
    const name = this.options.shards[shard]!.name;
    const id = formatAddress(address);
    let node: NodeClient | undefined;
    const probe = () => node!.send(new Command("ping"), this.options.commandTimeoutMs, PROBE);
    const nodeMeter = this.meters.node(shard, id);
    const onState = (state: BreakerState) => {
      nodeMeter.transitions[state]++;
      this.events.breaker(name, id, state);
    };
    const context: NodeContext = {
      breaker: new NodeBreaker(this.options.breaker, probe, onState),
      maxQueueLength: this.options.maxQueueLength,
      retry: this.options.retry,
      detectStalls: true,
      role: undefined,
      onRoleMismatch: (n, actual) => this.hooks.roleMismatch(shard, n, actual),
      redirect: (n, entry) => this.hooks.redirect(shard, n, entry),
      meter: this.meters.role(shard, role),
      nodeMeter,
      traceArgs: this.options.tracing.includeArgs,
    };
    node = new NodeClient(name, address, this.options.redis, this.scheduler, this.events, context);
    const slot: Slot = { node, context, shard, pool: undefined };
    this.slots.set(id, slot);
    if (!this.options.lazyConnect) node.connect();
    return slot;
  }

  /** A node that left the layout: its work settles within deadlines, then it closes. */
  private async retire(slot: Slot): Promise<void> {
    await slot.pool?.close();
    await slot.node.drain();
    await slot.node.close();
    slot.context.breaker.shutdown();
  }
}
