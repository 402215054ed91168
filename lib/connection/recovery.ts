/**
 * What a connection does with a failed command before its caller sees the
 * failure: retry it (reads and idempotent writes, after a lost connection
 * or a "not now" reply, within the deadline), or send it to the shard's
 * current master after a READONLY reply (once). It works by standing in
 * as the command's interceptor, so commands that succeed pay nothing.
 */
import type { ResolvedRetryOptions } from "../config/resolve.js";
import { ConnectionError } from "../errors.js";
import { reconnectDelay } from "../resilience/backoff.js";
import { RETRYABLE, type Entry } from "./entry.js";

/** Replies that mean "not now" rather than "no": safe to retry for commands that may repeat. */
const TRANSIENT_REPLY = /^(LOADING|TRYAGAIN|BUSY)\b/;

export interface RecoveryHost {
  /** The connection is closing: nothing is retried any more. */
  isClosing(): boolean;
  readonly retry: ResolvedRetryOptions;
  /** Queues entries again on this connection (the breaker decides if they may go). */
  requeue(entries: Entry[]): void;
  /** Sends the entry to the shard's current master; undefined when nobody re-routes (no HA). */
  readonly redirect: ((entry: Entry) => void) | undefined;
  /** A retry was scheduled (for the retries metric). */
  retried(): void;
}

export class Recovery {
  private retrying: Entry[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly host: RecoveryHost) {}

  /** Whether entries of these flags need the hook at all. */
  wants(flags: number): boolean {
    return (flags & RETRYABLE && this.host.retry.attempts > 0) || this.host.redirect !== undefined;
  }

  /** Looks at the entry's failures before its caller does (or stops, when this connection has nothing to offer it). */
  watch(entry: Entry): void {
    entry.cmd.interceptor = this.wants(entry.flags) ? (error) => this.handle(entry, error) : undefined;
  }

  /** Entries waiting for their retry, taken out (for close). */
  drop(): Entry[] {
    clearTimeout(this.timer);
    this.timer = undefined;
    const entries = this.retrying;
    this.retrying = [];
    return entries;
  }

  private handle(entry: Entry, error: Error): boolean {
    if (this.host.isClosing() || entry.moved) return false;
    const reply = error.name === "ReplyError";
    if (reply && error.message.startsWith("READONLY") && this.host.redirect && !entry.redirected) {
      // Writing to a master that was demoted: learn the new topology and try once where it points.
      entry.redirected = true;
      this.host.redirect(entry);
      return true;
    }
    if (!(entry.flags & RETRYABLE)) return false;
    const retry = this.host.retry;
    if (entry.attempts >= retry.attempts) return false;
    if (!(error instanceof ConnectionError || (reply && TRANSIENT_REPLY.test(error.message)))) return false;
    const delay = reconnectDelay(entry.attempts + 1, { baseDelayMs: retry.baseDelayMs, maxDelayMs: retry.maxDelayMs });
    if (performance.now() + delay >= entry.deadline) return false;
    entry.attempts++;
    // A fresh attempt: not written yet, and its failure was counted already (the retry's own outcome counts anew).
    entry.written = false;
    entry.failed = false;
    this.host.retried();
    this.retrying.push(entry);
    // One timer for every retry scheduled in this burst.
    this.timer ??= setTimeout(this.resend, delay);
    return true;
  }

  private readonly resend = (): void => {
    this.timer = undefined;
    const entries = this.retrying.filter((entry) => !entry.isDone());
    this.retrying = [];
    if (entries.length) this.host.requeue(entries);
  };
}
