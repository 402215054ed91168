/**
 * The commands a connection accepted and has not written yet, and when
 * they leave: at the end of the event-loop turn, so everything the turn
 * sent goes in one write, or at once when the oldest has waited
 * maxWriteDelayMs. Without that bound a node waits idle while the
 * application computes, or while a near cache answers thousands of reads
 * from memory, and then gets everything at once (measured on the
 * near-cache bench: 1.2-1.5x the throughput with 1 ms).
 */
import type { Entry } from "./entry.js";
import type { FlushScheduler, Flushable } from "./scheduler.js";

export class WriteQueue implements Flushable {
  private entries: Entry[] = [];
  /** When the oldest entry still queued was queued (performance.now()). */
  private queuedAt = 0;
  /** Queued for this turn's flush already. */
  private marked = false;

  constructor(
    private readonly scheduler: FlushScheduler,
    private readonly maxWriteDelayMs: number,
    /** Writes what is queued (the connection's flush). */
    private readonly write: () => void,
  ) {}

  get length(): number {
    return this.entries.length;
  }

  /**
   * Queues an entry. True when it should be written now rather than at the
   * turn's end: the turn has run maxWriteDelayMs since its first queued
   * entry. (A MULTI/EXEC block is one entry, so an early write never splits it.)
   */
  add(entry: Entry, now: number): boolean {
    if (this.entries.length === 0) this.queuedAt = now;
    this.entries.push(entry);
    return now - this.queuedAt >= this.maxWriteDelayMs;
  }

  /** Queues an entry again (a retry), behind what is queued. */
  requeue(entry: Entry): void {
    if (this.entries.length === 0) this.queuedAt = performance.now();
    this.entries.push(entry);
  }

  /** Everything queued, taken out: for a write, a hand-over or a failure. */
  take(): Entry[] {
    const entries = this.entries;
    this.entries = [];
    return entries;
  }

  /** Keeps only the entries `keep` accepts (expired ones dropped while the connection is down). */
  retain(keep: (entry: Entry) => boolean): void {
    this.entries = this.entries.filter(keep);
  }

  /** Asks for a write at the end of this turn (once, however often asked). */
  markDirty(): void {
    if (!this.marked) {
      this.marked = true;
      this.scheduler.mark(this);
    }
  }

  /** The scheduler's call at the end of the turn. */
  flush(): void {
    this.marked = false;
    this.write();
  }
}
