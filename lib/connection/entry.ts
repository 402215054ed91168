import type { ShardisCommand } from "../commands/command.js";
import type { Deadlined } from "./deadlines.js";
import type { TraceHandle } from "./observer.js";

/** send() flags. */
export const RETRYABLE = 1;
/** The breaker's probe: sent even while the breaker is open. */
export const PROBE = 2;
/** shardis's own housekeeping (health checks, server stats, probes): not counted, not traced. */
export const INTERNAL = 4;
/** Part of a MULTI/EXEC block: answered where it was queued, never re-sent alone (it would run outside the block). */
export const IN_BLOCK = 8;

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
  /** Cluster redirections (MOVED, ASK) followed. */
  redirections = 0;
  /** TRYAGAIN / CLUSTERDOWN retries made (for their backoff). */
  clusterWaits = 0;
  /** The trace, when someone subscribes to the shardis:command channel. */
  trace: TraceHandle | undefined;

  constructor(
    readonly cmd: ShardisCommand,
    readonly deadline: number,
    readonly timeoutMs: number,
    readonly flags: number,
    /** performance.now() when first accepted; kept across hand-overs, so latency counts the whole wait. */
    readonly startedAt: number,
  ) {}

  isDone(): boolean {
    return this.moved || this.cmd.isSettled;
  }

  /** Rejects the caller's promise, past any recovery. */
  fail(error: Error): void {
    this.cmd.rejectFinal(error);
  }

  /** The same command, deadline and history, for another node; this one is marked moved. */
  handOver(): Entry {
    this.moved = true;
    const next = new Entry(this.cmd, this.deadline, this.timeoutMs, this.flags, this.startedAt);
    next.attempts = this.attempts;
    next.redirected = this.redirected;
    next.redirections = this.redirections;
    next.clusterWaits = this.clusterWaits;
    next.trace = this.trace;
    return next;
  }
}
