import type { Command } from "ioredis";
import type { CommandTrace } from "../metrics/tracing.js";
import type { Deadlined } from "./deadlines.js";

/** send() flags. */
export const RETRYABLE = 1;
/** The breaker's probe: sent even while the breaker is open. */
export const PROBE = 2;
/** shardis's own housekeeping (health checks, server stats, probes): not counted, not traced. */
export const INTERNAL = 4;

/** A command accepted by a NodeClient, from queueing to its reply. */
export class Entry implements Deadlined {
  /** Handed to the socket; from then on a lost connection leaves its outcome unknown. */
  written = false;
  /** Failed at the node (timed out, connection lost): already counted against the breaker. */
  failed = false;
  /** Handed to another node (failover, READONLY): this node no longer answers for it. */
  moved = false;
  /** Retries used so far. */
  attempts = 0;
  /** Re-routed once after a READONLY reply; never twice. */
  redirected = false;
  /** The command's own reject, when a recovery hook stands in front of it. */
  rejectOriginal: ((error: Error) => void) | undefined;
  /** The tracing context, when someone subscribes to the shardis:command channel. */
  trace: CommandTrace | undefined;

  constructor(
    readonly cmd: Command,
    readonly deadline: number,
    readonly timeoutMs: number,
    readonly flags: number,
    /** performance.now() when first accepted; kept across hand-overs, so latency counts the whole wait. */
    readonly startedAt: number,
  ) {}

  isDone(): boolean {
    return this.moved || this.cmd.isSettled;
  }

  /** Rejects past any recovery hook. */
  fail(error: Error): void {
    (this.rejectOriginal ?? this.cmd.reject)(error);
  }

  /** The same command, deadline and history, for another node; this one is marked moved. */
  handOver(): Entry {
    this.moved = true;
    const next = new Entry(this.cmd, this.deadline, this.timeoutMs, this.flags, this.startedAt);
    next.attempts = this.attempts;
    next.redirected = this.redirected;
    next.rejectOriginal = this.rejectOriginal;
    next.trace = this.trace;
    return next;
  }
}
