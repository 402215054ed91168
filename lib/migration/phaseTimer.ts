/**
 * Wakes a migration at each phase boundary. Commands look at the clock as
 * they are sent, but a client that sends none (a subscriber, an idle app
 * server) would otherwise change phase only at its next command: its
 * `migration:phase` events late, a moving channel's subscription on its old
 * owner kept past `done`, and the connections of shards a shrink removed
 * left open. One timer, re-armed for the next boundary after each; unref'd
 * (it never keeps a process alive), stopped when the client closes or the
 * migration is replaced.
 */
import type { PhaseClock } from "./clock.js";

/** setTimeout's longest delay (2^31 - 1 ms, about 24.8 days): a longer one would fire at once. */
const LONGEST_MS = 2 ** 31 - 1;
/**
 * The shortest wait: a wall clock that disagrees with the timers' (stepped
 * back by NTP, or a test's injected clock standing still) must not make the
 * timer spin. A boundary noticed a few ms late by an idle client is harmless:
 * commands look at the clock themselves.
 */
const SHORTEST_MS = 10;

export class PhaseTimer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly clock: PhaseClock,
    private readonly now: () => number,
    /** Brings the migration to the phase now (events, resync, release follow from it). */
    private readonly tick: () => void,
  ) {}

  /** Arms the timer for the next boundary after now; nothing once the migration is done. */
  start(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped) return;
    const now = this.now();
    const until = this.clock.state(now).until;
    if (!Number.isFinite(until)) return;
    this.timer = setTimeout(() => this.fire(), Math.min(LONGEST_MS, Math.max(SHORTEST_MS, until - now)));
    this.timer.unref();
  }

  /** For good: no tick after this. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    this.timer = undefined;
    try {
      this.tick();
    } finally {
      this.start();
    }
  }
}
