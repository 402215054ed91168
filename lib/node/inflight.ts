import type { Command } from "ioredis";
import { CountedRead } from "../metrics/countedRead.js";
import type { RoleMeter } from "../metrics/meters.js";
import { Fifo } from "../util/fifo.js";
import { INTERNAL, type Entry } from "./entry.js";

interface Batch {
  readonly entries: Entry[];
  readonly last: Command;
  readonly writtenAt: number;
}

/**
 * Batches written on a connection and not yet answered, oldest first. Replies
 * come in order, so a batch is done when its last command is: one promise
 * reaction per batch, not per command, gives the breaker its success counts,
 * the meter each command's outcome, latency and cache hits, and the stall
 * detector the age of the oldest unanswered write. A command's latency runs
 * from its acceptance to the moment its batch's replies were read.
 */
export class InFlight {
  private readonly batches = new Fifo<Batch>();

  add(entries: Entry[], last: Command, writtenAt: number): void {
    this.batches.push({ entries, last, writtenAt });
  }

  /** Removes answered batches, metering their commands; returns how many got a reply. */
  collect(now: number, meter: RoleMeter): number {
    let answered = 0;
    for (let head = this.batches.peek(); head && head.last.isSettled; head = this.batches.peek()) {
      for (const entry of head.entries) {
        const cmd = entry.cmd;
        if (!entry.written || entry.failed || entry.moved || !cmd.isSettled) continue;
        answered++;
        if (entry.flags & INTERNAL) continue;
        meter.answered(cmd.name, (now - entry.startedAt) / 1000, cmd.isResolved);
        if (cmd instanceof CountedRead && cmd.isResolved) {
          meter.hits += cmd.hits;
          meter.misses += cmd.misses;
        }
      }
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
