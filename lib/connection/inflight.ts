import type { ShardisCommand } from "../commands/command.js";
import { Fifo } from "../util/fifo.js";
import { INTERNAL, type Entry } from "./entry.js";
import type { CommandObserver } from "./observer.js";

/**
 * A class, not an object literal: V8 may pretenure a literal's allocation
 * site (objects born in the old generation), and a dead old batch would keep
 * its commands alive through scavenges (youngQueue.ts says more).
 */
class Batch {
  constructor(
    readonly entries: Entry[],
    readonly last: ShardisCommand,
    readonly writtenAt: number,
  ) {}
}

/**
 * Batches written on a connection and not yet answered, oldest first. Replies
 * come in order, so a batch is done when its last command is: one promise
 * reaction per batch, not per command, gives the breaker its success counts,
 * the observer each command's outcome and latency, and the stall detector
 * the age of the oldest unanswered write. A command's latency runs from its
 * acceptance to the moment its batch's replies were read.
 */
export class InFlight {
  private readonly batches = new Fifo<Batch>();
  /** Written commands not yet collected (settled or not). */
  private size = 0;

  add(entries: Entry[], last: ShardisCommand, writtenAt: number): void {
    this.batches.push(new Batch(entries, last, writtenAt));
    this.size += entries.length;
  }

  /** Removes answered batches, reporting their commands; returns how many got a reply. */
  collect(now: number, observer: CommandObserver): number {
    let answered = 0;
    for (let head = this.batches.peek(); head && head.last.isSettled; head = this.batches.peek()) {
      for (const entry of head.entries) {
        const cmd = entry.cmd;
        if (!entry.written || entry.failed || entry.moved || !cmd.isSettled) continue;
        answered++;
        if (!(entry.flags & INTERNAL)) observer.answered(cmd, (now - entry.startedAt) / 1000);
      }
      this.size -= head.entries.length;
      // The array may live in the old generation (an array literal's site pretenured): it lets its entries go now.
      head.entries.length = 0;
      this.batches.shift();
    }
    return answered;
  }

  /** Commands written and still waiting for their reply (settled ones not counted). */
  unanswered(): number {
    if (this.size === 0) return 0;
    let waiting = 0;
    for (const batch of this.batches) for (const entry of batch.entries) if (entry.written && !entry.isDone()) waiting++;
    return waiting;
  }

  /** How long the oldest unanswered batch has waited, in ms (0 when none); call collect() first. */
  oldestAge(now: number): number {
    const head = this.batches.peek();
    return head ? now - head.writtenAt : 0;
  }

  clear(): void {
    while (this.batches.shift());
    this.size = 0;
  }
}
