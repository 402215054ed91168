/**
 * Holds the current Layout and replaces it: after a coalesced refresh from
 * the source (one in flight at a time, at most one per cooldown; a request
 * arriving during a refresh gets one more right after it), periodically, and
 * at once when Sentinel announces a new master. Each change is a new frozen
 * Layout with a higher epoch, handed to onChange; nothing is patched.
 */
import type { Address } from "../config/types.js";
import { freezeLayout, sameNodes, type Layout, type ShardNodes } from "./Topology.js";

/** Reads the fleet: an entry per shard, undefined where the source has nothing new (static shards, failures). */
export interface LayoutSource {
  observe(current: Layout): Promise<Array<ShardNodes | undefined>>;
}

export interface HolderOptions {
  readonly cooldownMs: number;
  readonly intervalMs: number;
}

export class TopologyHolder {
  private layout: Layout;
  private inFlight: Promise<void> | undefined;
  private again = false;
  private lastEnded = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(
    initial: Layout,
    private readonly source: LayoutSource | undefined,
    private readonly options: HolderOptions,
    private readonly onChange: (previous: Layout, next: Layout, reason: string) => void,
    private readonly onRefreshError: (error: Error) => void,
  ) {
    this.layout = initial;
  }

  get current(): Layout {
    return this.layout;
  }

  /** Starts the periodic refresh (and a first one now). */
  start(): void {
    if (!this.source || this.timer) return;
    void this.refresh("startup");
    this.timer = setInterval(() => void this.refresh("periodic"), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /** Re-reads the fleet; concurrent and closely spaced calls share refreshes. */
  refresh(reason: string): Promise<void> {
    if (!this.source) return Promise.resolve();
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    const source = this.source;
    this.inFlight = (async () => {
      const wait = this.lastEnded + this.options.cooldownMs - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
      try {
        const observed = await source.observe(this.layout);
        this.apply(observed.map((shard, i) => shard ?? this.layout.shards[i]!), reason);
      } catch (error) {
        this.onRefreshError(error as Error);
      } finally {
        this.lastEnded = performance.now();
        this.inFlight = undefined;
        if (this.again) {
          this.again = false;
          void this.refresh(reason);
        }
      }
    })();
    return this.inFlight;
  }

  /** A new master, known now (Sentinel's +switch-master): swapped in at once. */
  setMaster(shard: number, master: Address, reason: string): void {
    const shards = this.layout.shards.map((s, i) =>
      i === shard ? { master, replicas: s.replicas.filter((r) => r.host !== master.host || r.port !== master.port) } : s,
    );
    this.apply(shards, reason);
  }

  /** Resolves when the shard has a master, or after timeoutMs (the caller looks again). */
  whenPlaced(shard: number, timeoutMs: number): Promise<void> {
    if (this.layout.shards[shard]?.master) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.waiters.add(wake);
    });
  }

  private apply(shards: readonly ShardNodes[], reason: string): void {
    if (shards.every((s, i) => sameNodes(s, this.layout.shards[i]!))) return;
    const previous = this.layout;
    this.layout = freezeLayout(previous.epoch + 1, shards);
    this.onChange(previous, this.layout, reason);
    for (const wake of [...this.waiters]) wake();
  }
}
