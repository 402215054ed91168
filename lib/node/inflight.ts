import type { Command } from "ioredis";
import { Fifo } from "../util/fifo.js";
import type { Entry } from "./entry.js";

interface Batch {
  readonly entries: Entry[];
  readonly last: Command;
  readonly writtenAt: number;
}

/**
 * Batches written on a connection and not yet answered, oldest first. Replies
 * come in order, so a batch is done when its last command is: one promise
 * reaction per batch, not per command, gives the breaker its success counts
 * and the stall detector the age of the oldest unanswered write.
 */
export class InFlight {
  private readonly batches = new Fifo<Batch>();

  add(entries: Entry[], last: Command, writtenAt: number): void {
    this.batches.push({ entries, last, writtenAt });
  }

  /** Removes answered batches; returns how many of their commands got a reply. */
  collect(): number {
    let answered = 0;
    for (let head = this.batches.peek(); head && head.last.isSettled; head = this.batches.peek()) {
      for (const entry of head.entries) if (entry.written && !entry.failed && entry.cmd.isSettled) answered++;
      this.batches.shift();
    }
    return answered;
  }

  /** How long the oldest unanswered batch has waited, in ms (0 when none); call collect() first. */
  oldestAge(now: number): number {
    const head = this.batches.peek();
    return head ? now - head.writtenAt : 0;
  }

  clear(): void {
    while (this.batches.shift());
  }
}
