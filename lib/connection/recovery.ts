/**
 * What a connection does with a failed command before its caller sees the
 * failure: retry it (reads and idempotent writes, after a lost connection
 * or a "not now" reply, within the deadline), send it to the shard's
 * current master after a READONLY reply (once), and, over a Redis Cluster,
 * follow MOVED and ASK to the node they name and retry TRYAGAIN and
 * CLUSTERDOWN (the command did not run, so any command may repeat) until
 * its deadline. It works as the command's interceptor, so commands that
 * succeed pay nothing.
 */
import type { ResolvedRetryOptions } from "../config/resolve.js";
import { ClusterError, ConnectionError } from "../errors.js";
import { reconnectDelay } from "../resilience/backoff.js";
import type { HandOver } from "./context.js";
import { BLOCK, RETRYABLE, type Entry } from "./entry.js";

const ignore = (): void => undefined;

/** Replies that mean "not now" rather than "no": safe to retry for commands that may repeat. */
const TRANSIENT_REPLY = /^(LOADING|TRYAGAIN|BUSY)\b/;
/** Cluster replies of a command the node did not run: safe to retry for any command. */
const CLUSTER_NOT_NOW = /^(TRYAGAIN|CLUSTERDOWN)\b/;
/** MOVED 3999 127.0.0.1:6381 / ASK 3999 127.0.0.1:6381 */
const CLUSTER_REDIRECT = /^(MOVED|ASK) (\d+) (\S+)$/;

/** What a MOVED or ASK reply says: where the slot is served (MOVED) or its key is now (ASK); undefined for any other error. */
export function clusterRedirectOf(error: unknown): { kind: "MOVED" | "ASK"; slot: number; address: string } | undefined {
  if (!(error instanceof Error) || error.name !== "ReplyError") return undefined;
  const match = CLUSTER_REDIRECT.exec(error.message);
  return match ? { kind: match[1] as "MOVED" | "ASK", slot: Number(match[2]), address: match[3]! } : undefined;
}
/** Redirections one command may follow before its caller gets the last reply (as ioredis Cluster's default). */
const MAX_REDIRECTIONS = 16;

export interface RecoveryHost {
  /** "host:port" of the node, for errors. */
  readonly node: string;
  /** The connection is closing: nothing is retried any more. */
  isClosing(): boolean;
  readonly retry: ResolvedRetryOptions;
  /** Queues entries again on this connection (the breaker decides if they may go). */
  requeue(entries: Entry[]): void;
  /** Sends the entry (answered `error`, a READONLY) to the shard's current master; undefined when nobody re-routes (no HA). */
  readonly redirect: ((entry: Entry, error: Error) => HandOver) | undefined;
  /** Over a cluster: sends the entry where a MOVED or ASK reply points; undefined elsewhere. */
  readonly clusterRedirect: ((entry: Entry, kind: "moved" | "ask", address: string, slot: number) => HandOver) | undefined;
  /** A retry was scheduled (for the retries metric). */
  retried(): void;
}

export class Recovery {
  private retrying: Entry[] = [];
  private timer: NodeJS.Timeout | undefined;
  /**
   * The last hand-over still waiting (a map re-read). The ones after it wait
   * for it: a pipeline's SET answered READONLY and the GET behind it answered
   * MOVED must reach the new master in that order, or the GET reads what the
   * SET replaced.
   */
  private handing: Promise<void> | undefined;

  constructor(private readonly host: RecoveryHost) {}

  /** Whether entries of these flags need the hook at all. */
  wants(flags: number): boolean {
    if (flags & BLOCK) return false;
    return (flags & RETRYABLE && this.host.retry.attempts > 0) || this.host.redirect !== undefined || this.host.clusterRedirect !== undefined;
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
    // A pinned command depends on this connection's WATCH or MULTI: it is never sent elsewhere, nor again after a
    // lost connection. Only what a cluster says (MOVED/ASK, turned into an error on such a connection; TRYAGAIN) applies.
    const pinned = entry.pin !== undefined;
    if (reply && error.message.startsWith("READONLY") && this.host.redirect && !entry.redirected && !pinned) {
      // Writing to a master that was demoted: learn the new topology and try once where it points.
      entry.redirected = true;
      entry.trace?.note("readonly");
      const redirect = this.host.redirect;
      this.handOver(entry, () => redirect(entry, error));
      return true;
    }
    if (reply && this.host.clusterRedirect) {
      const redirect = clusterRedirectOf(error);
      if (redirect && entry.redirections < MAX_REDIRECTIONS) {
        entry.redirections++;
        entry.trace?.note(redirect.kind === "ASK" ? "ask" : "moved", redirect.address);
        const clusterRedirect = this.host.clusterRedirect;
        this.handOver(entry, () => clusterRedirect(entry, redirect.kind === "ASK" ? "ask" : "moved", redirect.address, redirect.slot));
        return true;
      }
      // Bounded by the deadline, not by retry.attempts: a slot in migration answers TRYAGAIN until its keys have moved.
      if (CLUSTER_NOT_NOW.test(error.message)) {
        if (this.retryLater(entry, Math.min(++entry.clusterWaits, 8), error)) return true;
        // Out of time: say which node kept answering so (a cluster in fail state answers CLUSTERDOWN to everything).
        entry.fail(new ClusterError(`still answering "${error.message}" at the command's deadline`, this.host.node, error));
        return true;
      }
    }
    if (!(entry.flags & RETRYABLE) || pinned) return false;
    const retry = this.host.retry;
    if (entry.attempts >= retry.attempts) return false;
    if (!(error instanceof ConnectionError || (reply && TRANSIENT_REPLY.test(error.message)))) return false;
    entry.attempts++;
    return this.retryLater(entry, entry.attempts, error);
  }

  /** Hands an entry over now, or after the hand-overs from this connection still waiting. */
  private handOver(entry: Entry, send: () => HandOver): void {
    const before = this.handing;
    const sent = before ? before.then(send) : send();
    if (!sent) return;
    // A hand-over that threw fails its own entry (never left unanswered); the ones after it go on.
    const settled = sent.then(ignore, (error: unknown) => {
      if (!entry.isDone()) entry.fail(error instanceof Error ? error : new Error(String(error)));
    });
    this.handing = settled;
    void settled.then(() => {
      if (this.handing === settled) this.handing = undefined;
    });
  }

  /** Queues the entry again after the attempt's backoff, if that still ends before its deadline. */
  private retryLater(entry: Entry, attempt: number, cause: Error): boolean {
    const retry = this.host.retry;
    const delay = reconnectDelay(attempt, { baseDelayMs: Math.max(1, retry.baseDelayMs), maxDelayMs: Math.max(1, retry.maxDelayMs) });
    if (performance.now() + delay >= entry.deadline) return false;
    // The reason as a class, never the message (a reply's text may carry what the caller sent).
    entry.trace?.note("retry", cause.name === "ReplyError" ? cause.message.split(" ", 1)[0] : cause.name);
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
