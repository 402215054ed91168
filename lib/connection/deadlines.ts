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
 * each value gets a FIFO lane and only lane heads are ever examined. An
 * entry that arrives with an earlier deadline than its lane's last (handed
 * over from another node: a failover, a READONLY or MOVED redirect) would
 * wait behind later ones there, so it goes to a short list swept whole.
 */
export class DeadlineTracker<T extends Deadlined> {
  private readonly lanes = new Map<number, Fifo<T>>();
  /** Entries that came out of deadline order (hand-overs): few, and checked one by one. */
  private stragglers: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(private readonly onExpired: (expired: T[]) => void) {}

  add(entry: T): void {
    let lane = this.lanes.get(entry.timeoutMs);
    if (!lane) this.lanes.set(entry.timeoutMs, (lane = new Fifo<T>()));
    const last = lane.last();
    if (last !== undefined && last.deadline > entry.deadline) this.stragglers.push(entry);
    else lane.push(entry);
    if (entry.deadline < this.timerAt) this.arm(entry.deadline);
  }

  /** Drops finished entries from lane heads. Cheap; called once per batch. */
  prune(): void {
    for (const lane of this.lanes.values()) {
      while (lane.length && lane.peek()!.isDone()) lane.shift();
    }
    if (this.stragglers.length) this.stragglers = this.stragglers.filter((entry) => !entry.isDone());
  }

  /** Entries not yet done, oldest first within each lane. */
  pending(): T[] {
    const result: T[] = [];
    for (const lane of this.lanes.values()) for (const entry of lane) if (!entry.isDone()) result.push(entry);
    for (const entry of this.stragglers) if (!entry.isDone()) result.push(entry);
    return result;
  }

  get size(): number {
    let size = 0;
    for (const lane of this.lanes.values()) size += lane.length;
    return size + this.stragglers.length;
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
    if (this.stragglers.length) {
      const waiting: T[] = [];
      for (const entry of this.stragglers) {
        if (entry.isDone()) continue;
        if (entry.deadline <= now) expired.push(entry);
        else {
          waiting.push(entry);
          next = Math.min(next, entry.deadline);
        }
      }
      this.stragglers = waiting;
    }
    if (next !== Infinity) this.arm(next);
    if (expired.length) this.onExpired(expired);
  };
}
