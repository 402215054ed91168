/**
 * One connection to one Redis node: queues the commands sent to it, writes
 * each event-loop turn's commands in one corked write, enforces every
 * command's deadline, retries what is safe to retry, feeds the node's
 * circuit breaker, and turns connection trouble into typed errors that name
 * the shard and address.
 */
import { inspect } from "node:util";
import { Redis, type Command } from "ioredis";
import { formatAddress } from "../config/address.js";
import type { ResolvedRetryOptions } from "../config/resolve.js";
import type { Address, RedisConnectionOptions } from "../config/types.js";
import { DEFAULTS } from "../config/defaults.js";
import {
  AuthenticationError,
  CircuitOpenError,
  ClientClosedError,
  ConnectionError,
  QueueFullError,
  TimeoutError,
} from "../errors.js";
import { reconnectDelay } from "../resilience/backoff.js";
import type { BreakerState, NodeBreaker } from "../resilience/breaker.js";
import { connectionOptions } from "./connectionOptions.js";
import { DeadlineTracker } from "./deadlines.js";
import { Entry, PROBE, RETRYABLE } from "./entry.js";
import { InFlight } from "./inflight.js";
import { isAuthFailure, sanitizeError } from "./sanitize.js";
import type { FlushScheduler, Flushable } from "./scheduler.js";

export { PROBE, RETRYABLE } from "./entry.js";

export interface NodeEvents {
  ready(node: NodeClient): void;
  down(node: NodeClient, cause: Error | undefined): void;
  error(node: NodeClient, error: Error): void;
  breaker(shard: string, node: string, state: BreakerState): void;
}

/** What a connection shares with the other connections to its node. */
export interface NodeContext {
  readonly breaker: NodeBreaker;
  readonly maxQueueLength: number;
  readonly retry: ResolvedRetryOptions;
  /** Watch for a node that stops answering (shared connections; never where commands block). */
  readonly detectStalls: boolean;
}

/** Replies that mean "not now" rather than "no": safe to retry for commands that may repeat. */
const RETRYABLE_REPLY = /^(LOADING|TRYAGAIN|BUSY)\b/;

export class NodeClient implements Flushable {
  /** "host:port": how the node is named in errors, events and metrics. */
  readonly id: string;
  private readonly redis: Redis;
  private queue: Entry[] = [];
  private readonly tracker = new DeadlineTracker<Entry>((expired) => this.expire(expired));
  private readonly inflight = new InFlight();
  private marked = false;
  private up: boolean | undefined;
  private closing = false;
  private lastError: Error | undefined;
  private authError: AuthenticationError | undefined;
  private readyWaiters: Array<{ ready(): void; failed(error: Error): void }> = [];
  /** A written command expired unanswered: replies on this connection may lag its requests. */
  private expiredInFlight = false;
  /** Connections lost or attempts failed since the last ready; two in a row mean the node is gone. */
  private failedAttempts = 0;
  private stallTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retrying: Entry[] = [];
  /** SHA1s of scripts this connection's server is known to have cached (cleared on reconnect). */
  readonly knownScripts = new Set<string>();

  constructor(
    readonly shard: string,
    readonly address: Address,
    redisOptions: Readonly<RedisConnectionOptions>,
    private readonly scheduler: FlushScheduler,
    private readonly events: NodeEvents,
    private readonly context: NodeContext,
  ) {
    this.id = formatAddress(address);
    this.redis = new Redis(connectionOptions(address, redisOptions));
    this.redis.on("ready", this.onReady).on("close", this.onClose).on("error", this.onError);
  }

  get ready(): boolean {
    return this.redis.status === "ready";
  }

  /** Ready, and safe to hand to a new borrower (dedicated connections). */
  get reusable(): boolean {
    return this.ready && !this.expiredInFlight && !this.closing;
  }

  /** Whether the node's breaker lets commands through now. */
  get admits(): boolean {
    return this.context.breaker.admits;
  }

  /** What a command gets while the breaker is open. */
  circuitOpenError(): CircuitOpenError {
    const breaker = this.context.breaker;
    return new CircuitOpenError(this.shard, this.id, breaker.reason, breaker.retryInMs);
  }

  /** Commands accepted and not yet answered, queued or in flight. */
  get outstanding(): number {
    return this.tracker.size;
  }

  /** Resolves when the connection is ready; rejects after timeoutMs or on an authentication failure. */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve();
    this.connect();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        ready: () => {
          clearTimeout(timer);
          resolve();
        },
        failed: (error: Error) => {
          clearTimeout(timer);
          this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
          reject(error);
        },
      };
      const timer = setTimeout(
        () => waiter.failed(new ConnectionError(this.shard, this.id, `not ready within ${timeoutMs} ms`, this.lastError)),
        timeoutMs,
      );
      this.readyWaiters.push(waiter);
    });
  }

  /** Pub/sub deliveries on this connection (it must have sent SUBSCRIBE or PSUBSCRIBE). */
  onMessage(
    message: (channel: string, message: string) => void,
    pmessage: (pattern: string, channel: string, message: string) => void,
  ): void {
    this.redis.on("message", message).on("pmessage", pmessage);
  }

  connect(): void {
    // Failures surface through the "error" and "close" events; the promise adds nothing.
    if (this.redis.status === "wait") this.redis.connect().catch(() => undefined);
  }

  /**
   * Queues a command for this turn's write. Fails fast, without touching the
   * socket, when the breaker is open, credentials were refused, or too many
   * commands already wait for the connection.
   */
  send(cmd: Command, timeoutMs: number, flags = 0): Promise<unknown> {
    if (!(flags & PROBE) && !this.context.breaker.admits) {
      cmd.reject(this.circuitOpenError());
      return cmd.promise;
    }
    if (this.authError) {
      cmd.reject(this.authError);
      return cmd.promise;
    }
    if (this.queue.length >= this.context.maxQueueLength && !this.ready) {
      cmd.reject(new QueueFullError(this.shard, this.id, this.context.maxQueueLength));
      return cmd.promise;
    }
    const entry = new Entry(cmd, performance.now() + timeoutMs, timeoutMs, flags);
    if (flags & RETRYABLE && this.context.retry.attempts > 0) this.hookRetries(entry);
    this.tracker.add(entry);
    this.queue.push(entry);
    this.markDirty();
    if (this.redis.status === "wait") this.connect();
    return cmd.promise;
  }

  /** Writes everything queued in one corked write, if the connection is ready. */
  flush(): void {
    this.marked = false;
    const stream = this.redis.stream;
    if (this.queue.length === 0 || this.redis.status !== "ready" || !stream?.writable) return;
    const batch = this.queue;
    this.queue = [];
    let last: Command | undefined;
    stream.cork();
    for (const entry of batch) {
      if (entry.cmd.isSettled) continue; // expired while queued: never send it late
      entry.written = true;
      last = entry.cmd;
      this.redis.sendCommand(entry.cmd);
    }
    stream.uncork();
    this.tracker.prune();
    if (last) {
      this.inflight.add(batch, last, performance.now());
      last.promise.then(this.onAnswered, this.onAnswered);
    }
  }

  /**
   * For quit(): resolves once every accepted command with a deadline has
   * settled (written now if the connection is ready, or when it becomes
   * ready). Commands that block indefinitely are not awaited.
   */
  async drain(): Promise<void> {
    this.flush();
    const bounded = this.tracker.pending().filter((entry) => entry.deadline !== Infinity);
    await Promise.allSettled(bounded.map((entry) => entry.cmd.promise));
  }

  /** Sends QUIT (bounded wait) and closes; `force` drops the socket at once, failing what is in flight. */
  async close(force = false): Promise<void> {
    this.closing = true;
    this.tracker.stop();
    this.stopStallWatch();
    clearTimeout(this.retryTimer);
    if (this.redis.status === "ready" && !force) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, DEFAULTS.quitTimeoutMs)));
      await Promise.race([this.redis.quit().catch(() => undefined), timeout]);
      clearTimeout(timer);
    }
    this.redis.disconnect();
    // Nothing may wait for a connection that is gone. Unsent commands were never applied; sent ones may have been.
    for (const entry of [...this.tracker.pending(), ...this.retrying]) {
      entry.fail(
        entry.written
          ? new ConnectionError(this.shard, this.id, "closed by the client with the command in flight; it may or may not have been applied")
          : new ClientClosedError(),
      );
    }
    this.queue = [];
    this.retrying = [];
  }

  private markDirty(): void {
    if (!this.marked) {
      this.marked = true;
      this.scheduler.mark(this);
    }
  }

  /** Puts a hook in front of the command's reject so safe failures become retries. */
  private hookRetries(entry: Entry): void {
    const reject = entry.cmd.reject;
    entry.rejectOriginal = reject;
    entry.cmd.reject = (error: Error) => {
      if (!this.scheduleRetry(entry, error)) reject(error);
    };
  }

  private scheduleRetry(entry: Entry, error: Error): boolean {
    const retry = this.context.retry;
    if (this.closing || entry.attempts >= retry.attempts) return false;
    const transient =
      error instanceof ConnectionError || (error.name === "ReplyError" && RETRYABLE_REPLY.test(error.message));
    if (!transient) return false;
    const delay = reconnectDelay(entry.attempts + 1, { baseDelayMs: retry.baseDelayMs, maxDelayMs: retry.maxDelayMs });
    if (performance.now() + delay >= entry.deadline) return false;
    entry.attempts++;
    entry.written = false;
    this.retrying.push(entry);
    // One timer for every retry scheduled in this burst.
    this.retryTimer ??= setTimeout(this.resend, delay);
    return true;
  }

  private readonly resend = (): void => {
    this.retryTimer = undefined;
    const entries = this.retrying;
    this.retrying = [];
    for (const entry of entries) {
      if (entry.cmd.isSettled) continue;
      if (!this.context.breaker.admits) {
        entry.fail(this.circuitOpenError());
        continue;
      }
      this.queue.push(entry);
    }
    if (this.queue.length) this.markDirty();
  };

  private readonly onAnswered = (): void => {
    const answered = this.inflight.collect();
    if (answered) this.context.breaker.record(answered, 0);
  };

  private expire(expired: Entry[]): void {
    for (const entry of expired) {
      if (entry.written) this.expiredInFlight = true;
      entry.failed = true;
      const detail = entry.written
        ? "the node did not answer"
        : this.lastError
          ? `not connected: ${this.lastError.message}`
          : "still connecting";
      entry.fail(new TimeoutError(this.shard, this.id, entry.timeoutMs, detail, this.lastError));
    }
    this.context.breaker.record(0, expired.length);
    if (this.queue.length && !this.ready) this.queue = this.queue.filter((entry) => !entry.cmd.isSettled);
  }

  private startStallWatch(): void {
    if (!this.context.detectStalls || !this.context.breaker.options.enabled) return;
    const stallMs = this.context.breaker.options.stallMs;
    const every = Math.max(10, stallMs / 4);
    let lastTick = performance.now();
    this.stallTimer = setInterval(() => {
      const now = performance.now();
      const late = now - lastTick - every;
      lastTick = now;
      // A tick this late means this process, not the node, was stalled: judge the node next time.
      if (late > every) return;
      // Timers run before the poll phase; let replies already on the socket be read first.
      setImmediate(this.checkStall);
    }, every);
    this.stallTimer.unref();
  }

  private readonly checkStall = (): void => {
    if (this.closing) return;
    this.onAnswered();
    const age = this.inflight.oldestAge(performance.now());
    if (age >= this.context.breaker.options.stallMs) this.context.breaker.trip(`no reply for ${Math.round(age)} ms`);
  };

  private stopStallWatch(): void {
    clearInterval(this.stallTimer);
    this.stallTimer = undefined;
  }

  private readonly onReady = (): void => {
    this.up = true;
    this.lastError = undefined;
    this.authError = undefined;
    this.expiredInFlight = false;
    this.failedAttempts = 0;
    this.knownScripts.clear();
    this.startStallWatch();
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) waiter.ready();
    this.events.ready(this);
    this.flush();
  };

  private readonly onClose = (): void => {
    this.stopStallWatch();
    this.inflight.clear();
    let lost = 0;
    for (const entry of this.tracker.pending()) {
      if (!entry.written) continue;
      lost++;
      entry.failed = true;
      entry.cmd.reject(
        new ConnectionError(
          this.shard,
          this.id,
          "connection lost with the command in flight; it may or may not have been applied",
          this.lastError,
        ),
      );
    }
    if (this.closing) return;
    this.context.breaker.record(0, lost);
    if (++this.failedAttempts >= 2) {
      this.context.breaker.trip(`connection lost and not re-established${this.lastError ? `: ${this.lastError.message}` : ""}`);
    }
    if (this.up !== false) {
      this.up = false;
      this.events.down(this, this.lastError);
    }
  };

  private readonly onError = (error: unknown): void => {
    const safe = sanitizeError(error);
    this.lastError = safe;
    if (isAuthFailure(safe)) {
      this.authError = new AuthenticationError(this.shard, this.id, safe.message);
      for (const entry of this.queue) entry.fail(this.authError);
      this.queue = [];
      for (const waiter of [...this.readyWaiters]) waiter.failed(this.authError);
    }
    if (!this.closing) this.events.error(this, safe);
  };

  [inspect.custom](): string {
    return `NodeClient { shard: ${this.shard}, node: ${this.id}, status: ${this.redis.status} }`;
  }
}
