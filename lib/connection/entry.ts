import { internalCommand, type ShardisCommand } from "../commands/command.js";
import type { Deadlined } from "./deadlines.js";
import type { TraceHandle } from "./observer.js";

/** send() flags. */
export const RETRYABLE = 1;
/** The breaker's probe: sent even while the breaker is open. */
export const PROBE = 2;
/** shardis's own housekeeping (health checks, server stats, probes): not counted, not traced. */
export const INTERNAL = 4;
/**
 * A whole MULTI/EXEC block (a BlockCommand): its MULTI, queued commands and
 * EXEC are written together, and never retried or redirected on their own.
 */
export const BLOCK = 8;

/** What a caller set up on a connection and the server keeps only for that socket. */
export type SessionState = "watch" | "multi" | "watch+multi";

/**
 * Connection state a caller set up with WATCH or MULTI: the server keeps it
 * for one socket only. Commands pinned to it are written only on the
 * connection of that generation; after a reconnect they fail with
 * WatchLostError, so nothing runs as if the state were still there.
 */
export class Pin {
  constructor(
    /** The connection's generation when the state was set up (NodeClient.generation). */
    readonly generation: number,
    public holds: SessionState,
  ) {}
}

/** A command accepted by a NodeClient, from queueing to its reply. */
export class Entry implements Deadlined {
  /** Handed to the socket; from then on a lost connection leaves its outcome unknown. */
  written = false;
  /** Failed at the node (timed out, connection lost): already counted against the breaker. */
  failed = false;
  /** Handed to another node (failover, READONLY, MOVED), or failed at the hand-over: this node no longer answers for it. */
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
  /** Set for commands that depend on a WATCH or MULTI on this connection: written only on the connection that holds it. */
  pin: Pin | undefined;

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
    next.pin = this.pin;
    return next;
  }
}

/**
 * ASKING for an entry a cluster's ASK sends to the importing node, with the
 * entry's deadline. Its failure (a deadline, a lost connection) is the
 * entry's to report: never an unhandled rejection.
 */
export function askingFor(entry: Entry, now: number): Entry {
  const cmd = internalCommand("asking");
  cmd.promise.catch(() => undefined);
  return new Entry(cmd, entry.deadline, entry.timeoutMs, INTERNAL, now);
}
