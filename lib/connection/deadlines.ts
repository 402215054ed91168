import { Fifo } from "../util/fifo.js";
import { MinHeap } from "../util/heap.js";

export interface Deadlined {
  /** performance.now() value after which the entry has expired. */
  readonly deadline: number;
  readonly timeoutMs: number;
  isDone(): boolean;
}

/**
 * Expires entries at their deadline with one timer per node instead of one
 * per command. Entries of one timeout value are issued in deadline order, so
 * each value gets a FIFO lane and only lane heads are ever examined. The
 * rest go to a heap by deadline: an entry with an earlier deadline than its
 * lane's last (handed over from another node: a failover, a READONLY or
 * MOVED redirect), and one whose timeout is what was left of a deadline (a
 * transaction's, a pooled command's), which would otherwise make a lane of
 * its own for every command.
 */
export class DeadlineTracker<T extends Deadlined> {
  private readonly lanes = new Map<number, Fifo<T>>();
  /** Entries out of any lane's order, earliest deadline first. */
  private readonly stragglers = new MinHeap<T>((entry) => entry.deadline);
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(private readonly onExpired: (expired: T[]) => void) {}

  add(entry: T): void {
    if (Number.isInteger(entry.timeoutMs)) {
      let lane = this.lanes.get(entry.timeoutMs);
      if (!lane) this.lanes.set(entry.timeoutMs, (lane = new Fifo<T>()));
      const last = lane.last();
      if (last === undefined || last.deadline <= entry.deadline) lane.push(entry);
      else this.stragglers.push(entry);
    } else this.stragglers.push(entry);
    if (entry.deadline < this.timerAt) this.arm(entry.deadline);
  }

  /** Drops finished entries from lane heads (and the heap's top). Cheap; called once per batch. */
  prune(): void {
    for (const lane of this.lanes.values()) {
      while (lane.length && lane.peek()!.isDone()) lane.shift();
    }
    while (this.stragglers.peek()?.isDone()) this.stragglers.pop();
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
    return size + this.stragglers.size;
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
    for (let top = this.stragglers.peek(); top; top = this.stragglers.peek()) {
      if (top.isDone()) this.stragglers.pop();
      else if (top.deadline <= now) expired.push(this.stragglers.pop()!);
      else {
        next = Math.min(next, top.deadline);
        break;
      }
    }
    if (next !== Infinity) this.arm(next);
    if (expired.length) this.onExpired(expired);
  };
}
