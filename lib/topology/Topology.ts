/**
 * Where every shard's nodes are: a Layout, replaced as a whole (with a higher
 * epoch) whenever anything changes, never edited in place.
 */
import { formatAddress } from "../config/address.js";
import type { ResolvedShard } from "../config/shards.js";
import type { Address } from "../config/types.js";
import type { BreakerState } from "../resilience/breaker.js";

export interface ShardNodes {
  /** Undefined until Sentinel has named it. */
  readonly master: Address | undefined;
  readonly replicas: readonly Address[];
  /**
   * Removed from a plain fleet (a migration done, reconfigure()): no nodes,
   * never routed to, left out of fan-outs and topology(). The entry keeps its
   * index, so no other shard is ever given it (handles made before fail).
   */
  readonly released?: true;
  /**
   * Added by a reconfigure() still waiting for it to be ready: connected,
   * but not serving until the change is committed (left out of fan-outs,
   * topology() and pub/sub, as a released shard is).
   */
  readonly pending?: true;
}

/** Whether a layout entry serves: neither released nor pending. */
export function serving(shard: ShardNodes | undefined): boolean {
  return shard !== undefined && !shard.released && !shard.pending;
}

/** A released shard's entry. */
export const RELEASED: ShardNodes = Object.freeze({ master: undefined, replicas: Object.freeze([]) as readonly Address[], released: true as const });

/** A slot no shard serves (a cluster not fully covered, or not discovered yet). */
export const UNASSIGNED = 0xffff;

export interface Layout {
  readonly epoch: number;
  readonly shards: readonly ShardNodes[];
  /** Each shard's name, by index. Shards are only ever added (a removed one is released, keeping its index), so an index names one shard for the client's life. */
  readonly names: readonly string[];
  /**
   * slot -> shard index when a Redis Cluster places keys (UNASSIGNED where no
   * shard serves the slot); undefined when the configured strategy does. Never
   * written after the layout is made.
   */
  readonly slots: Uint16Array | undefined;
}

/** What a source observed: a shard entry left undefined keeps the current one; names and slots replace the current ones when given. */
export interface LayoutDraft {
  readonly shards: ReadonlyArray<ShardNodes | undefined>;
  readonly names?: readonly string[];
  readonly slots?: Uint16Array;
}

export function initialLayout(shards: readonly ResolvedShard[], cluster = false): Layout {
  return freezeLayout(
    1,
    shards.map((s) => ({ master: s.master, replicas: s.replicas })),
    shards.map((s) => s.name),
    cluster ? new Uint16Array(16384).fill(UNASSIGNED) : undefined,
  );
}

export function freezeLayout(epoch: number, shards: readonly ShardNodes[], names: readonly string[], slots: Uint16Array | undefined): Layout {
  return Object.freeze({
    epoch,
    shards: Object.freeze(shards.map((s) => Object.freeze({ master: s.master, replicas: Object.freeze([...s.replicas]), ...(s.released && { released: true as const }), ...(s.pending && { pending: true as const }) }))),
    names: Object.freeze([...names]),
    slots,
  });
}

/** The draft applied to the current layout, or undefined when nothing changes. */
export function nextLayout(current: Layout, draft: LayoutDraft): Layout | undefined {
  const shards = draft.shards.map((s, i) => s ?? current.shards[i]!);
  const names = draft.names ?? current.names;
  const slots = draft.slots ?? current.slots;
  const same =
    shards.length === current.shards.length &&
    shards.every((s, i) => sameNodes(s, current.shards[i]!)) &&
    names.length === current.names.length &&
    names.every((n, i) => n === current.names[i]) &&
    sameSlots(slots, current.slots);
  return same ? undefined : freezeLayout(current.epoch + 1, shards, names, slots);
}

export function sameSlots(a: Uint16Array | undefined, b: Uint16Array | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function sameNodes(a: ShardNodes, b: ShardNodes): boolean {
  const key = (x: Address | undefined) => (x ? formatAddress(x) : "");
  return (
    key(a.master) === key(b.master) &&
    !a.released === !b.released &&
    !a.pending === !b.pending &&
    a.replicas.length === b.replicas.length &&
    a.replicas.map(key).sort().join() === b.replicas.map(key).sort().join()
  );
}

/** What client.topology() returns: the layout with each node's health, at one moment. */
export interface TopologySnapshot {
  readonly epoch: number;
  readonly shards: readonly ShardView[];
  /** Sentinels known now: the configured ones and those learned from them. */
  readonly sentinels: readonly string[];
  /** While a live migration of the fleet has not finished (docs/scaling.md): its phase and both fleets, by shard name. */
  readonly migration?: { readonly phase: string; readonly from: readonly string[]; readonly to: readonly string[] };
}

export interface ShardView {
  readonly name: string;
  /** "host:port", or null while Sentinel has not named it. */
  readonly master: NodeView | null;
  readonly replicas: readonly NodeView[];
  /** Over a Redis Cluster: how many of the 16384 hash slots the shard serves (0 for a master just added); absent elsewhere. */
  readonly slots?: number;
}

export interface NodeView {
  readonly address: string;
  readonly role: "master" | "replica";
  /** Connected, with its role confirmed. */
  readonly connected: boolean;
  readonly breaker: BreakerState;
  /** Moving average of round trips, in ms; null before the first health check. */
  readonly latencyMs: number | null;
  /** Replicas: how far behind the master, in ms; null when unknown. */
  readonly lagMs: number | null;
  /** Replicas: whether reads may go there now (connected, breaker closed, not syncing, within maxReplicaLagMs). */
  readonly readable: boolean;
}
