import { Fifo } from "../util/fifo.js";

export interface Deadlined {
  /** performance.now() value after which the entry has expired. */
  readonly deadline: number;
  readonly timeoutMs: number;
  isDone(): boolean;
}

/**
 * Expires entries at their deadline with one timer per node instead of one
 * per command. Entries of one timeout value are issued in deadline order, so
 * each value gets a FIFO lane and only lane heads are ever examined.
 */
export class DeadlineTracker<T extends Deadlined> {
  private readonly lanes = new Map<number, Fifo<T>>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(private readonly onExpired: (expired: T[]) => void) {}

  add(entry: T): void {
    let lane = this.lanes.get(entry.timeoutMs);
    if (!lane) this.lanes.set(entry.timeoutMs, (lane = new Fifo<T>()));
    lane.push(entry);
    if (entry.deadline < this.timerAt) this.arm(entry.deadline);
  }

  /** Drops finished entries from lane heads. Cheap; called once per batch. */
  prune(): void {
    for (const lane of this.lanes.values()) {
      while (lane.length && lane.peek()!.isDone()) lane.shift();
    }
  }

  /** Entries not yet done, oldest first within each lane. */
  pending(): T[] {
    const result: T[] = [];
    for (const lane of this.lanes.values()) for (const entry of lane) if (!entry.isDone()) result.push(entry);
    return result;
  }

  get size(): number {
    let size = 0;
    for (const lane of this.lanes.values()) size += lane.length;
    return size;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.sweepSoon, Math.max(0, at - performance.now()));
    // The sockets keep the process alive while work is pending; a timer alone must not.
    this.timer.unref();
  }

  /**
   * Timers run before the poll phase: if this process was busy, replies that
   * arrived in time may still sit unread on the socket. Sweeping in the check
   * phase lets them be read first, so a slow process is not blamed on a node.
   */
  private readonly sweepSoon = (): void => {
    setImmediate(this.sweep);
  };

  private readonly sweep = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = performance.now();
    const expired: T[] = [];
    let next = Infinity;
    for (const [timeout, lane] of this.lanes) {
      for (let head = lane.peek(); head; head = lane.peek()) {
        if (head.isDone()) lane.shift();
        else if (head.deadline <= now) expired.push(lane.shift()!);
        else break;
      }
      const head = lane.peek();
      if (head) next = Math.min(next, head.deadline);
      else this.lanes.delete(timeout);
    }
    if (next !== Infinity) this.arm(next);
    if (expired.length) this.onExpired(expired);
  };
}
