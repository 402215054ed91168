/**
 * Polls INFO replication on every master that has replicas and on the
 * replicas themselves, every healthCheckIntervalMs: round trips give each
 * node's latency (moving average), and replication offsets give each
 * replica's lag in milliseconds. A replica's lag is the time since its
 * master first had data the replica still lacks; while the master is
 * unreachable no newer data exists, so a replica's lag stops growing and it
 * stays readable: that is what keeps reads going during a master outage.
 * A node whose ACL refuses INFO still answers (NOPERM): the round trip
 * measures its latency, but a replica's lag is then unknown, and a replica
 * of unknown lag is never read from (maxReplicaLagMs could not be kept).
 */
import { internalCommand } from "../commands/command.js";
import { INTERNAL, type NodeClient } from "../connection/NodeClient.js";
import type { NodeRegistry } from "../topology/NodeRegistry.js";
import { isSyncing, lagMs, parseInfo, type OffsetSample } from "./replication.js";
import type { AclRefusals } from "../connection/aclRefusals.js";

export interface NodeHealth {
  /** Moving average of round trips, ms. */
  latencyMs: number | null;
  /** Replicas: ms behind the master; null until known. */
  lagMs: number | null;
  /** Replicas: in a full sync or loading its dataset. */
  syncing: boolean;
  /** The node's ACL refuses INFO: its lag cannot be known. */
  infoRefused?: boolean;
}

export interface HealthOptions {
  readonly intervalMs: number;
  readonly maxReplicaLagMs: number;
  readonly timeoutMs: number;
  /** Poll masters of shards without replicas too (latency for "nearest"). */
  readonly allMasters: boolean;
  /** A node listed as a replica says it is a master: it was promoted, and the layout is behind. */
  readonly promoted?: () => void;
  /** Where an ACL's refusal of INFO (or of READONLY, on a cluster replica) is reported and remembered. */
  readonly refusals?: AclRefusals;
}

/** Weight of the newest round trip in the latency average. */
const ALPHA = 0.3;
/** Master offset samples kept: enough history to measure lags well past maxReplicaLagMs. */
const HISTORY = 256;

export class HealthMonitor {
  private readonly health = new WeakMap<NodeClient, NodeHealth>();
  private readonly offsets = new WeakMap<NodeClient, OffsetSample[]>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly registry: NodeRegistry,
    private readonly options: HealthOptions,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.options.intervalMs);
    this.timer.unref();
    void this.check();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Health of a node, as last measured. */
  of(node: NodeClient): NodeHealth {
    return this.health.get(node) ?? { latencyMs: null, lagMs: null, syncing: false };
  }

  /** Whether reads may go to this replica now (or, `evenIfDisconnected`, once its connection is back). */
  readable(replica: NodeClient, evenIfDisconnected = false): boolean {
    if ((!replica.ready && !evenIfDisconnected) || !replica.admits) return false;
    const health = this.health.get(replica);
    if (!health || health.syncing || health.lagMs === null || health.lagMs > this.options.maxReplicaLagMs) return false;
    // A cluster replica that may not say READONLY answers every read with MOVED.
    return !this.options.refusals?.isRefused(replica, "replicaReads");
  }

  /** Whether every one of these replicas refuses INFO (for the error of a read that found none readable). */
  lagUnknown(replicas: readonly NodeClient[]): boolean {
    return replicas.length > 0 && replicas.every((r) => this.health.get(r)?.infoRefused === true);
  }

  /** One round of checks; overlapping rounds are skipped. */
  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const rounds: Array<Promise<void>> = [];
      for (let shard = 0; shard < this.registry.shardCount; shard++) {
        const master = this.registry.master(shard);
        const replicas = this.registry.replicasOf(shard);
        if (master && (replicas.length || this.options.allMasters)) rounds.push(this.checkMaster(master));
        // Replicas after their master, so their lag is measured against the newest offset.
        rounds.push(...replicas.map((replica) => this.checkReplica(replica, master)));
      }
      await Promise.all(rounds);
    } finally {
      this.running = false;
    }
  }

  private async checkMaster(master: NodeClient): Promise<void> {
    const info = await this.info(master, "replication");
    if (!info) return;
    const samples = this.offsets.get(master) ?? [];
    samples.push({ at: performance.now(), offset: Number(info.master_repl_offset ?? 0) });
    if (samples.length > HISTORY) samples.splice(0, samples.length - HISTORY);
    this.offsets.set(master, samples);
  }

  private async checkReplica(replica: NodeClient, master: NodeClient | undefined): Promise<void> {
    const [replication, persistence] = await Promise.all([this.info(replica, "replication"), this.info(replica, "persistence")]);
    const health = this.health.get(replica) ?? { latencyMs: null, lagMs: null, syncing: false };
    this.health.set(replica, health);
    if (!replication) {
      // No answer: nothing is known about it now.
      health.lagMs = null;
      return;
    }
    if (replication.role === "master") this.options.promoted?.();
    health.syncing = isSyncing(replication, persistence);
    const applied = Number(replication.slave_repl_offset ?? replication.slave_read_repl_offset ?? -1);
    const lag = lagMs((master && this.offsets.get(master)) ?? [], applied, performance.now());
    if (lag !== undefined) health.lagMs = lag;
  }

  /** INFO <section> as fields, timing the round trip (a NOPERM is an answer, and timed); undefined without fields. */
  private async info(node: NodeClient, section: string): Promise<Record<string, string> | undefined> {
    const started = performance.now();
    let text: string;
    try {
      text = (await node.send(internalCommand("info", [section]), this.options.timeoutMs, INTERNAL)) as string;
    } catch (error) {
      // Refused by the ACL: reported once; the NOPERM is still an answer, so the round trip counts as latency.
      if (this.options.refusals?.refused(node, "replicaHealth", error)) this.measured(node, started).infoRefused = true;
      return undefined;
    }
    const health = this.measured(node, started);
    if (health.infoRefused) {
      health.infoRefused = false;
      this.options.refusals?.permitted(node, "replicaHealth");
    }
    return parseInfo(text);
  }

  /** Adds a round trip that started at `started` to the node's latency average. */
  private measured(node: NodeClient, started: number): NodeHealth {
    const rtt = performance.now() - started;
    const health = this.health.get(node) ?? { latencyMs: null, lagMs: null, syncing: false };
    health.latencyMs = health.latencyMs === null ? rtt : health.latencyMs + ALPHA * (rtt - health.latencyMs);
    this.health.set(node, health);
    return health;
  }
}
