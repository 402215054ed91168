/**
 * One node's circuit breaker. opossum provides the state machine (closed,
 * open, halfOpen after resetTimeout), its timers and events, and runs the
 * probe. The statistics are shardis's own: opossum's fire() costs a promise,
 * timers and several events per call, so instead outcomes are counted per
 * batch of commands in a RollingCounts window, and hot-path admission is a
 * single property read (`admits`).
 *
 * It trips (opens) when, over the window, at least volumeThreshold commands
 * completed and more than errorThresholdPercentage of them failed at the
 * node (timeouts, lost connections); or at once when the node is plainly
 * gone: no reply to anything for stallMs, or two connection attempts in a
 * row failed. After resetTimeoutMs it lets one probe (PING) through:
 * success closes it, failure opens it again.
 */
import CircuitBreaker from "opossum";
import { RollingCounts } from "./rollingCounts.js";

export type BreakerState = "closed" | "open" | "halfOpen";

export interface ResolvedBreakerOptions {
  readonly enabled: boolean;
  readonly errorThresholdPercentage: number;
  readonly volumeThreshold: number;
  readonly windowMs: number;
  readonly resetTimeoutMs: number;
  readonly stallMs: number;
}

const BUCKETS = 10;

export class NodeBreaker {
  private readonly circuit: CircuitBreaker<[], unknown>;
  private readonly counts: RollingCounts;
  /** Why it last opened, for CircuitOpenError messages. */
  reason = "";
  openedAt = 0;
  /** Told when the circuit opens: the node's connections fail what they still hold unwritten. */
  private readonly openListeners = new Set<() => void>();

  constructor(
    readonly options: ResolvedBreakerOptions,
    probe: () => Promise<unknown>,
    onState: (state: BreakerState) => void,
  ) {
    this.counts = new RollingCounts(options.windowMs, BUCKETS);
    // A fresh options object: opossum writes defaults into the one it is given.
    this.circuit = new CircuitBreaker<[], unknown>(probe, {
      resetTimeout: options.resetTimeoutMs,
      timeout: false,
      enableSnapshots: false,
      rollingPercentilesEnabled: false,
      enabled: options.enabled,
    });
    this.circuit.on("open", () => {
      this.openedAt = performance.now();
      onState("open");
      for (const listener of this.openListeners) listener();
    });
    this.circuit.on("close", () => {
      this.counts.reset();
      onState("closed");
    });
    this.circuit.on("halfOpen", () => {
      onState("halfOpen");
      // The probe: opossum closes the circuit if it succeeds and reopens it if it fails.
      this.circuit.fire().catch(() => undefined);
    });
  }

  /** Whether a command may be sent now: only while closed (the probe is internal). */
  get admits(): boolean {
    return this.circuit.closed || !this.options.enabled;
  }

  get state(): BreakerState {
    return this.circuit.opened ? "open" : this.circuit.halfOpen ? "halfOpen" : "closed";
  }

  /** Stall detection's threshold; undefined when the breaker is off (nothing to trip). */
  get stallMs(): number | undefined {
    return this.options.enabled ? this.options.stallMs : undefined;
  }

  /** Milliseconds until the next probe, for error messages. */
  get retryInMs(): number {
    return Math.max(0, Math.round(this.openedAt + this.options.resetTimeoutMs - performance.now()));
  }

  record(successes: number, failures: number): void {
    if (!this.options.enabled || !this.circuit.closed) return;
    this.counts.add(successes, failures);
    if (failures === 0) return;
    const { successes: ok, failures: failed } = this.counts.totals();
    const volume = ok + failed;
    if (volume >= this.options.volumeThreshold && (failed / volume) * 100 > this.options.errorThresholdPercentage) {
      this.trip(`${Math.round((failed / volume) * 100)}% of ${volume} commands failed`);
    }
  }

  /** Opens now, for failures that need no statistics (stalled node, node gone). */
  trip(reason: string): void {
    if (!this.options.enabled || !this.circuit.closed) return;
    this.reason = reason;
    this.circuit.open();
  }

  onOpen(listener: () => void): () => void {
    this.openListeners.add(listener);
    return () => this.openListeners.delete(listener);
  }

  shutdown(): void {
    this.openListeners.clear();
    this.circuit.shutdown();
  }
}
