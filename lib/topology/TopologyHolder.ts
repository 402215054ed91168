/**
 * Holds the current Layout and replaces it: after a coalesced refresh from
 * the source (one in flight at a time, at most one per cooldown; a request
 * arriving during a refresh gets one more right after it), periodically, and
 * at once when Sentinel announces a new master. Each change is a new frozen
 * Layout with a higher epoch, handed to onChange; nothing is patched.
 */
import type { Address } from "../config/types.js";
import { nextLayout, type Layout, type LayoutDraft } from "./Topology.js";

/** Reads the fleet: what it observed, as a draft of the next layout (undefined entries: nothing new for that shard). */
export interface LayoutSource {
  observe(current: Layout): Promise<LayoutDraft>;
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
  private stopped = false;

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

  /** For good: no refresh starts or applies after this (one in flight ends without effect), and waiters wake. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopped = true;
    this.again = false;
    for (const wake of [...this.waiters]) wake();
    this.waiters.clear();
  }

  /**
   * Re-reads the fleet; concurrent and closely spaced calls share refreshes.
   * A call during a re-read gets one more after it, unless `join`: the
   * caller knows the one in flight began after what it saw (a connection's
   * hook asked for it when the reply arrived), and waits for that one only.
   */
  refresh(reason: string, join = false): Promise<void> {
    // After stop() a refresh would open connections nobody closes (the client is closing): none starts.
    if (!this.source || this.stopped) return Promise.resolve();
    if (this.inFlight) {
      if (!join) this.again = true;
      return this.inFlight;
    }
    const source = this.source;
    this.inFlight = (async () => {
      const wait = this.lastEnded + this.options.cooldownMs - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
      try {
        if (!this.stopped) this.apply(await source.observe(this.layout), reason);
      } catch (error) {
        if (!this.stopped) this.onRefreshError(error as Error);
      } finally {
        this.lastEnded = performance.now();
        this.inFlight = undefined;
        if (this.again && !this.stopped) {
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
    this.apply({ shards }, reason);
  }

  /** A change the client itself decides (reconfigure() adding shards): applied at once. */
  replace(draft: LayoutDraft, reason: string): void {
    this.apply(draft, reason);
  }

  /** Resolves at the next layout change, or after timeoutMs (the caller looks again). */
  whenChanged(timeoutMs: number): Promise<void> {
    const epoch = this.layout.epoch;
    return this.waitUntil(() => this.layout.epoch !== epoch, timeoutMs);
  }

  /** Resolves when the shard has a master, or after timeoutMs (the caller looks again). */
  whenPlaced(shard: number, timeoutMs: number): Promise<void> {
    return this.waitUntil(() => this.layout.shards[shard]?.master !== undefined, timeoutMs);
  }

  /** Resolves once `done()` holds after a layout change (or now), or after timeoutMs. */
  private waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
    if (done() || this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        if (!done() && !this.stopped) return;
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        resolve();
      }, timeoutMs);
      this.waiters.add(wake);
    });
  }

  private apply(draft: LayoutDraft, reason: string): void {
    // A refresh that was under way when the holder stopped: its answer would place nodes on a closed registry.
    if (this.stopped) return;
    const next = nextLayout(this.layout, draft);
    if (!next) return;
    const previous = this.layout;
    this.layout = next;
    this.onChange(previous, next, reason);
    for (const wake of [...this.waiters]) wake();
  }
}
