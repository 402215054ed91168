/**
 * Watches one connection for a node that stopped answering: while commands
 * are in flight and nothing came back for stallMs, the node's breaker opens
 * at once instead of waiting for deadlines to fill the failure window.
 */
export class StallWatch {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stallMs: number,
    /** Collects answered batches, then says how long the oldest unanswered one has waited, in ms. */
    private readonly oldestAge: () => number,
    private readonly trip: (reason: string) => void,
  ) {}

  start(): void {
    if (this.timer) return;
    const every = Math.max(10, this.stallMs / 4);
    let lastTick = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = now - lastTick - every;
      lastTick = now;
      // A tick this late means this process, not the node, was stalled: judge the node next time.
      if (late > every) return;
      // Timers run before the poll phase; let replies already on the socket be read first.
      setImmediate(this.check);
    }, every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private readonly check = (): void => {
    if (this.timer === undefined) return;
    const age = this.oldestAge();
    if (age >= this.stallMs) this.trip(`no reply for ${Math.round(age)} ms`);
  };
}
