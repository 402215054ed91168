/**
 * shardis's own counting, always on: per shard and role, per command, what
 * happened to every command (outcome, latency, cache hits); per node, its
 * reconnects and breaker transitions; per shard, topology changes and
 * failovers. Counters live here, not on connections, so they survive a node
 * leaving the layout and a replica being promoted. Prometheus export and
 * client.stats() both read these figures; the hot path only adds to them.
 */
import { exists as commandExists } from "@ioredis/commands";
import { CountedRead, type ShardisCommand } from "../commands/command.js";
import type { BreakerState } from "../resilience/breaker.js";
import type { CommandObserver, FailOutcome, NodeObserver, TraceHandle } from "../connection/observer.js";
import { Histogram } from "./histogram.js";
import { CacheMeter } from "./cacheMeter.js";
import { DEFAULTS } from "../config/defaults.js";
import { commandsTraced, traceCommand } from "./commandTrace.js";
import { ClientTracing } from "./clientTracing.js";

/** How a command ended. "error" is Redis answering with an error; the others are shardis or the network failing it. */
export const OUTCOMES = ["ok", "error", "timeout", "connection", "circuit_open", "queue_full", "closed", "auth", "database"] as const;
export type Outcome = (typeof OUTCOMES)[number];
export type { FailOutcome };

export type MeterRole = "master" | "replica";

/** Label for a command name: known commands by their lowercase name, anything else as "other" (bounded cardinality). */
export function commandLabel(name: string): string {
  const lower = name.toLowerCase();
  return commandExists(lower) ? lower : "other";
}

/** One command on one shard and role. */
export class CommandFigures {
  readonly outcomes: Record<Outcome, number> = {
    ok: 0, error: 0, timeout: 0, connection: 0, circuit_open: 0, queue_full: 0, closed: 0, auth: 0, database: 0,
  };
  /** Seconds from acceptance to reply, for commands the node answered (ok or error). */
  readonly latency: Histogram;

  constructor(
    readonly command: string,
    bounds: readonly number[],
  ) {
    this.latency = new Histogram(bounds);
  }
}

/** Raw command names cached per meter; more distinct names than this (odd casing) are looked up each time. */
const NAME_CACHE_LIMIT = 1024;

/** One shard in one role: where its connections count what they do (their observer). */
export class RoleMeter implements CommandObserver {
  private readonly byName = new Map<string, CommandFigures>();
  private readonly byLabel = new Map<string, CommandFigures>();
  hits = 0;
  misses = 0;
  retries = 0;
  /** Commands per write on the shard's connections in this role. */
  readonly batches: Histogram;

  constructor(
    readonly shard: string,
    readonly role: MeterRole,
    private readonly latencyBounds: readonly number[],
    batchBounds: readonly number[],
    /** What the client's traces carry. */
    private readonly tracing: ClientTracing,
  ) {
    this.batches = new Histogram(batchBounds);
  }

  accepted(cmd: ShardisCommand, node: string, startedAt: number): TraceHandle | undefined {
    return commandsTraced(this.tracing) ? traceCommand(cmd, { shard: this.shard, node, role: this.role }, startedAt, this.tracing) : undefined;
  }

  answered(cmd: ShardisCommand, seconds: number): void {
    const figures = this.figures(cmd.name);
    figures.outcomes[cmd.isResolved ? "ok" : "error"]++;
    figures.latency.observe(seconds);
    if (cmd instanceof CountedRead && cmd.isResolved) {
      this.hits += cmd.hits;
      this.misses += cmd.misses;
    }
  }

  retried(): void {
    this.retries++;
  }

  written(batchSize: number): void {
    this.batches.observe(batchSize);
  }

  figures(name: string): CommandFigures {
    const cached = this.byName.get(name);
    if (cached) return cached;
    const label = commandLabel(name);
    let figures = this.byLabel.get(label);
    if (!figures) this.byLabel.set(label, (figures = new CommandFigures(label, this.latencyBounds)));
    if (this.byName.size < NAME_CACHE_LIMIT) this.byName.set(name, figures);
    return figures;
  }

  failed(name: string, outcome: FailOutcome): void {
    this.figures(name).outcomes[outcome]++;
  }

  commands(): Iterable<CommandFigures> {
    return this.byLabel.values();
  }
}

/** One node (address): figures that belong to the node rather than to a shard's role. */
export class NodeMeter implements NodeObserver {
  reconnects = 0;
  readonly transitions = { open: 0, halfOpen: 0, closed: 0 };

  constructor(
    readonly shard: string,
    readonly address: string,
  ) {}

  reconnected(): void {
    this.reconnects++;
  }

  transition(state: BreakerState): void {
    this.transitions[state]++;
  }
}

/** One shard's topology history. */
export class ShardMeter {
  topologyChanges = 0;
  failovers = 0;
  /** Redis Cluster redirections its nodes answered with (commands followed them). */
  readonly redirects = { moved: 0, ask: 0 };
  readonly roles: Record<MeterRole, RoleMeter>;

  constructor(
    readonly shard: string,
    latencyBounds: readonly number[],
    batchBounds: readonly number[],
    tracing: ClientTracing,
  ) {
    this.roles = {
      master: new RoleMeter(shard, "master", latencyBounds, batchBounds, tracing),
      replica: new RoleMeter(shard, "replica", latencyBounds, batchBounds, tracing),
    };
  }
}

/** Commands refused before reaching any shard (routing errors, unsupported commands), by command label and error code. */
export interface Refusal {
  readonly command: string;
  readonly code: string;
  count: number;
}

/** Every meter of one client. */
export class Meters {
  /** Per shard index; a cluster's grow as masters are added, and never shrink. */
  readonly shards: ShardMeter[];
  private readonly nodes = new Map<string, NodeMeter>();
  private readonly refusals = new Map<string, Refusal>();
  private readonly caches = new Map<string, CacheMeter>();

  constructor(
    shardNames: readonly string[],
    latencyBounds: readonly number[],
    batchBounds: readonly number[],
    tracing: ClientTracing = new ClientTracing({}, 0, false),
  ) {
    this.shards = shardNames.map((name) => new ShardMeter(name, latencyBounds, batchBounds, tracing));
    this.make = (name) => new ShardMeter(name, latencyBounds, batchBounds, tracing);
  }

  private readonly make: (name: string) => ShardMeter;

  /**
   * Meters for every shard named, by index (new ones appended). A place
   * released by a migration and taken by another shard (reconfigure()) gets
   * a meter of its own: the one before was another shard's.
   */
  ensure(names: readonly string[]): void {
    for (let i = 0; i < names.length; i++) if (this.shards[i]?.shard !== names[i]) this.shards[i] = this.make(names[i]!);
  }

  role(shard: number, role: MeterRole): RoleMeter {
    return this.shards[shard]!.roles[role];
  }

  /** A node's meter, kept after it leaves the layout (counters must not go back). */
  node(shard: number, address: string): NodeMeter {
    const key = `${shard}|${address}`;
    let meter = this.nodes.get(key);
    if (!meter) this.nodes.set(key, (meter = new NodeMeter(this.shards[shard]!.shard, address)));
    return meter;
  }

  allNodes(): Iterable<NodeMeter> {
    return this.nodes.values();
  }

  /** A command refused before any shard; labels stay bounded (command label, error code). */
  refused(name: string, code: string): void {
    const command = commandLabel(name);
    const key = `${command}|${code}`;
    const refusal = this.refusals.get(key);
    if (refusal) refusal.count++;
    else this.refusals.set(key, { command, code, count: 1 });
  }

  allRefusals(): Iterable<Refusal> {
    return this.refusals.values();
  }

  /** A cache namespace's meter; caches of one namespace share it. */
  cache(namespace: string): CacheMeter {
    let meter = this.caches.get(namespace);
    if (!meter) this.caches.set(namespace, (meter = new CacheMeter(namespace, DEFAULTS.metrics.loadBuckets)));
    return meter;
  }

  allCaches(): Iterable<CacheMeter> {
    return this.caches.values();
  }

}
