/**
 * Reads every node's INFO on a timer, for the server_* metrics: what the
 * server itself saw (keyspace hits and misses of all its clients,
 * evictions, expirations, memory, clients) and how far each replica's
 * applied offset trails its master's. One INFO per node per interval,
 * marked internal so it is neither counted nor traced as the app's traffic.
 */
import { internalCommand } from "../commands/command.js";
import { INTERNAL, type NodeClient } from "../connection/NodeClient.js";
import type { NodeRegistry } from "../topology/NodeRegistry.js";
import { parseInfo } from "../replicas/replication.js";
import type { AclRefusals } from "../connection/aclRefusals.js";

/** What one INFO said, as numbers. */
export interface ServerFigures {
  readonly keyspaceHits: number;
  readonly keyspaceMisses: number;
  readonly evictedKeys: number;
  readonly expiredKeys: number;
  readonly usedMemoryBytes: number;
  /** 0: no limit. */
  readonly maxmemoryBytes: number;
  readonly connectedClients: number;
  /** master_repl_offset (masters) or slave_repl_offset (replicas). */
  readonly replicationOffset: number | null;
  /** performance.now() when read. */
  readonly at: number;
}

export function readServerFigures(info: string, at: number): ServerFigures {
  const f = parseInfo(info);
  const num = (key: string) => Number(f[key] ?? 0) || 0;
  const offset = f.role === "slave" ? f.slave_repl_offset : f.master_repl_offset;
  return {
    keyspaceHits: num("keyspace_hits"),
    keyspaceMisses: num("keyspace_misses"),
    evictedKeys: num("evicted_keys"),
    expiredKeys: num("expired_keys"),
    usedMemoryBytes: num("used_memory"),
    maxmemoryBytes: num("maxmemory"),
    connectedClients: num("connected_clients"),
    replicationOffset: offset === undefined || offset === "" ? null : Number(offset),
    at,
  };
}

export class ServerStats {
  private readonly figures = new WeakMap<NodeClient, ServerFigures>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly registry: NodeRegistry,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly refusals?: AclRefusals,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The node's last INFO figures, if one was read. */
  of(node: NodeClient): ServerFigures | undefined {
    return this.figures.get(node);
  }

  /** Reads every node once (one round at a time; a slow round is not stacked). */
  poll(): Promise<void> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<void> {
    await Promise.all(
      this.registry.placements().map(async ({ node }) => {
        // Not while it is down or its breaker is open (no queueing behind a sick node); its
        // figures go too: stale memory or client counts would read as current.
        if (!node.admits || !node.ready) return void this.figures.delete(node);
        try {
          const info = (await node.send(internalCommand("info"), this.timeoutMs, INTERNAL)) as string;
          this.figures.set(node, readServerFigures(info, performance.now()));
          this.refusals?.permitted(node, "serverStats");
        } catch (error) {
          // An ACL without +info: that node has no server_* figures, and the refusal is reported once.
          this.refusals?.refused(node, "serverStats", error);
          this.figures.delete(node);
        }
      }),
    );
  }
}
