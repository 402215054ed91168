import type { Command } from "ioredis";
import type { Deadlined } from "./deadlines.js";

/** send() flags. */
export const RETRYABLE = 1;
/** The breaker's probe: sent even while the breaker is open. */
export const PROBE = 2;

/** A command accepted by a NodeClient, from queueing to its reply. */
export class Entry implements Deadlined {
  /** Handed to the socket; from then on a lost connection leaves its outcome unknown. */
  written = false;
  /** Failed at the node (timed out, connection lost): already counted against the breaker. */
  failed = false;
  /** Retries used so far. */
  attempts = 0;
  /** The command's own reject, when a retry hook stands in front of it. */
  rejectOriginal: ((error: Error) => void) | undefined;

  constructor(
    readonly cmd: Command,
    readonly deadline: number,
    readonly timeoutMs: number,
    readonly flags: number,
  ) {}

  isDone(): boolean {
    return this.cmd.isSettled;
  }

  /** Rejects past any retry hook. */
  fail(error: Error): void {
    (this.rejectOriginal ?? this.cmd.reject)(error);
  }
}
