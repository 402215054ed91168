/**
 * One connection to one Redis node: queues the commands sent to it, writes
 * each event-loop turn's commands in one corked write, enforces every
 * command's deadline, checks on connect that the node has the role it was
 * sent as, feeds the node's circuit breaker, and turns connection trouble
 * into typed errors that name the shard and address.
 */
import { inspect } from "node:util";
import { Command, Redis } from "ioredis";
import { formatAddress } from "../config/address.js";
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
import type { FailOutcome } from "../metrics/meters.js";
import { traceCommand, tracingActive } from "../metrics/tracing.js";
import type { NodeContext, NodeEvents, NodeRole } from "./context.js";
import { connectionOptions } from "./connectionOptions.js";
import { DeadlineTracker } from "./deadlines.js";
import { Entry, INTERNAL, PROBE } from "./entry.js";
import { InFlight } from "./inflight.js";
import { Recovery } from "./recovery.js";
import { isAuthFailure, sanitizeError } from "./sanitize.js";
import type { FlushScheduler, Flushable } from "./scheduler.js";
import { ReadyWaiters } from "./readyWaiters.js";
import { StallWatch } from "./stallWatch.js";

export { INTERNAL, PROBE, RETRYABLE } from "./entry.js";
export type { Entry } from "./entry.js";
export type { NodeContext, NodeEvents, NodeRole } from "./context.js";

/** Commands that are not counted or traced: shardis's own probes and health checks. */
const UNMETERED = PROBE | INTERNAL;

const ROLES: Record<string, NodeRole> = { master: "master", slave: "replica" };
/** How soon a connection whose role did not match checks again without a layout change, in ms. */
const ROLE_RECHECK_MS = 500;

export class NodeClient implements Flushable {
  /** "host:port": how the node is named in errors, events and metrics. */
  readonly id: string;
  private readonly redis: Redis;
  private queue: Entry[] = [];
  private readonly tracker = new DeadlineTracker<Entry>((expired) => this.expire(expired));
  private readonly inflight = new InFlight();
  private readonly recovery: Recovery;
  private marked = false;
  private up: boolean | undefined;
  closing = false;
  /** Connected, and waiting for ROLE to confirm the node's role before writing anything. */
  private verifying = false;
  /** ROLE said something else than the layout; reported once until it matches. */
  private mismatched = false;
  private recheckTimer: NodeJS.Timeout | undefined;
  private lastError: Error | undefined;
  private authError: AuthenticationError | undefined;
  private readonly readyWaiters = new ReadyWaiters();
  /** A written command expired unanswered: replies on this connection may lag its requests. */
  private expiredInFlight = false;
  /** Connections lost or attempts failed since the last ready; two in a row mean the node is gone. */
  private failedAttempts = 0;
  /** Has been ready before: the next ready is a reconnect. */
  private wasReady = false;
  private readonly stallWatch: StallWatch | undefined;
  /** SHA1s of scripts this connection's server is known to have cached (cleared on reconnect). */
  readonly knownScripts = new Set<string>();

  constructor(
    readonly shard: string,
    readonly address: Address,
    redisOptions: Readonly<RedisConnectionOptions>,
    private readonly scheduler: FlushScheduler,
    private readonly events: NodeEvents,
    readonly context: NodeContext,
  ) {
    this.id = formatAddress(address);
    this.redis = new Redis(connectionOptions(address, redisOptions));
    this.redis.on("ready", this.onConnected).on("close", this.onClose).on("error", this.onError);
    const redirect = context.redirect;
    this.recovery = new Recovery({
      isClosing: () => this.closing,
      retry: context.retry,
      requeue: (entries) => this.requeue(entries),
      redirect: redirect && ((entry) => redirect(this, entry)),
      retried: () => this.context.meter.retries++,
    });
    // Dedicated connections carry blocking commands, unanswered for long by design: no stall watch there.
    if (context.detectStalls) {
      this.stallWatch = new StallWatch(context.breaker, () => {
        this.onAnswered();
        return this.inflight.oldestAge(performance.now());
      });
    }
  }

  /** Connected, with its role confirmed: commands are written now. */
  get ready(): boolean {
    return this.redis.status === "ready" && !this.verifying;
  }

  /** Ready, and safe to hand to a new borrower (dedicated connections). */
  get reusable(): boolean {
    return this.ready && !this.expiredInFlight && !this.closing;
  }

  /** Whether the node's breaker lets commands through now. */
  get admits(): boolean {
    return this.context.breaker.admits;
  }

  /**
   * What a command gets while the breaker is open. Built without a stack
   * trace: an open breaker may reject thousands of commands a second, the
   * trace would only point into shardis, and capturing it is most of the cost.
   */
  circuitOpenError(): CircuitOpenError {
    const breaker = this.context.breaker;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new CircuitOpenError(this.shard, this.id, breaker.reason, breaker.retryInMs);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  /** Commands accepted and not yet answered, queued or in flight. */
  get outstanding(): number {
    return this.tracker.size;
  }

  /** Accepted commands not yet written (waiting for the connection or this turn's flush). */
  get queued(): number {
    return this.queue.length;
  }

  /** Resolves when the connection is ready; rejects after timeoutMs or on an authentication failure. */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve();
    this.connect();
    return this.readyWaiters.wait(
      timeoutMs,
      () => new ConnectionError(this.shard, this.id, `not ready within ${timeoutMs} ms`, this.lastError),
    );
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
    if (!(flags & PROBE) && !this.context.breaker.admits) return this.refuse(cmd, flags, this.circuitOpenError(), "circuit_open");
    if (this.authError) return this.refuse(cmd, flags, this.authError, "auth");
    if (this.queue.length >= this.context.maxQueueLength && !this.ready) {
      return this.refuse(cmd, flags, new QueueFullError(this.shard, this.id, this.context.maxQueueLength), "queue_full");
    }
    const now = performance.now();
    const entry = new Entry(cmd, now + timeoutMs, timeoutMs, flags, now);
    this.accept(entry);
    if (this.redis.status === "wait") this.connect();
    if (!(flags & UNMETERED) && tracingActive()) {
      entry.trace = traceCommand(cmd, { shard: this.shard, node: this.id, role: this.context.meter.role }, now, this.context.traceArgs);
    }
    return cmd.promise;
  }

  private refuse(cmd: Command, flags: number, error: Error, outcome: FailOutcome): Promise<unknown> {
    if (!(flags & UNMETERED)) this.context.meter.failed(cmd.name, outcome);
    cmd.reject(error);
    return cmd.promise;
  }

  /** Fails an accepted entry past any recovery hook, and counts it. */
  private failEntry(entry: Entry, error: Error, outcome: FailOutcome): void {
    const settled = entry.cmd.isSettled; // already answered or failed elsewhere: counted there
    entry.fail(error);
    if (!settled && !(entry.flags & UNMETERED)) this.context.meter.failed(entry.cmd.name, outcome);
  }

  /** Takes over an entry another connection accepted (failover, READONLY): same command, deadline and caller. */
  adopt(entry: Entry): void {
    if (entry.isDone()) return;
    const mine = entry.handOver();
    if (mine.trace) mine.trace.node = this.id;
    if (!this.context.breaker.admits) {
      this.failEntry(mine, this.circuitOpenError(), "circuit_open");
      return;
    }
    this.accept(mine);
    this.connect();
  }

  /** Hands every command still waiting for a connection to another node (failover). */
  handOverQueued(to: NodeClient): void {
    const waiting = this.queue;
    this.queue = [];
    for (const entry of waiting) to.adopt(entry);
  }

  private accept(entry: Entry): void {
    if (this.recovery.wants(entry.flags)) this.recovery.hook(entry);
    this.tracker.add(entry);
    this.queue.push(entry);
    this.markDirty();
  }

  /** Writes everything queued in one corked write, if the connection is ready. */
  flush(): void {
    this.marked = false;
    const stream = this.redis.stream;
    if (this.queue.length === 0 || !this.ready || !stream?.writable) return;
    const batch = this.queue;
    this.queue = [];
    let last: Command | undefined;
    let written = 0;
    let traced = false;
    stream.cork();
    for (const entry of batch) {
      if (entry.isDone()) continue; // expired or handed over while queued: never send it here
      entry.written = true;
      last = entry.cmd;
      written++;
      traced ||= entry.trace !== undefined;
      this.redis.sendCommand(entry.cmd);
    }
    stream.uncork();
    this.tracker.prune();
    if (last) {
      this.context.meter.batches.observe(written);
      // A second pass only when someone traces: the batch size is known once the write is done.
      if (traced) for (const entry of batch) if (entry.trace && entry.written) entry.trace.batchSize = written;
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
    clearTimeout(this.recheckTimer);
    this.stallWatch?.stop();
    if (this.redis.status === "ready" && !force) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, DEFAULTS.quitTimeoutMs)));
      await Promise.race([this.redis.quit().catch(() => undefined), timeout]);
      clearTimeout(timer);
    }
    this.redis.disconnect();
    // Nothing may wait for a connection that is gone. Unsent commands were never applied; sent ones may have been.
    for (const entry of [...this.tracker.pending(), ...this.recovery.drop()]) {
      if (entry.written) {
        const error = new ConnectionError(this.shard, this.id, "closed by the client with the command in flight; it may or may not have been applied");
        this.failEntry(entry, error, "connection");
      } else this.failEntry(entry, new ClientClosedError(), "closed");
    }
    this.queue = [];
  }

  private markDirty(): void {
    if (!this.marked) {
      this.marked = true;
      this.scheduler.mark(this);
    }
  }

  private requeue(entries: Entry[]): void {
    for (const entry of entries) {
      if (!this.context.breaker.admits) this.failEntry(entry, this.circuitOpenError(), "circuit_open");
      else this.queue.push(entry);
    }
    if (this.queue.length) this.markDirty();
  }

  private readonly onAnswered = (): void => {
    const answered = this.inflight.collect(performance.now(), this.context.meter);
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
      this.failEntry(entry, new TimeoutError(this.shard, this.id, entry.timeoutMs, detail, this.lastError), "timeout");
    }
    this.context.breaker.record(0, expired.length);
    if (this.queue.length && !this.ready) this.queue = this.queue.filter((entry) => !entry.isDone());
  }

  /** Connected (handshake done): confirm the role first if it matters, then go. */
  private readonly onConnected = (): void => {
    // Reachable: whatever its role, the node is not gone.
    this.failedAttempts = 0;
    if (!this.context.role) return this.onReady();
    this.verifying = true;
    this.checkRole();
  };

  /**
   * The layout changed this node's role (a replica promoted, a master
   * demoted): a connection held back by a role mismatch checks again now.
   */
  roleChanged(): void {
    if (this.verifying && this.redis.status === "ready") this.checkRole();
  }

  /**
   * ROLE before anything is written. On a mismatch the connection stays open
   * but writes nothing (commands wait within their deadlines), the topology
   * is re-read, and the role is checked again when the layout changes, or
   * after a short while. A failover is seen this way before Sentinel
   * announces it: the promoted replica answers "master".
   */
  private checkRole(): void {
    clearTimeout(this.recheckTimer);
    const role = new Command("role", [], { replyEncoding: "utf8" });
    this.redis.sendCommand(role);
    role.promise.then(
      (reply: unknown) => {
        const actual = Array.isArray(reply) ? String(reply[0]) : String(reply);
        if (!this.verifying || this.closing) return;
        if (ROLES[actual] === this.context.role) return this.onReady();
        if (ROLES[actual] === "master" && this.context.role === "replica") {
          // A promoted replica: still right for reads (it is about to become the master). Serve, but re-read the layout.
          this.onReady();
          this.context.onRoleMismatch?.(this, actual);
          return;
        }
        if (!this.mismatched) {
          this.mismatched = true;
          this.lastError = new Error(`the node is a ${actual}, not the ${this.context.role} it was sent as`);
          this.events.error(this, this.lastError);
        }
        this.context.onRoleMismatch?.(this, actual);
        this.recheckTimer = setTimeout(() => this.roleChanged(), ROLE_RECHECK_MS);
        this.recheckTimer.unref();
      },
      () => undefined, // the connection failed under the check; the close handler takes it from here
    );
  }

  private onReady(): void {
    this.verifying = false;
    this.mismatched = false;
    this.up = true;
    this.lastError = undefined;
    this.authError = undefined;
    this.expiredInFlight = false;
    this.knownScripts.clear();
    if (this.wasReady) this.context.nodeMeter.reconnects++;
    this.wasReady = true;
    this.stallWatch?.start();
    this.readyWaiters.ready();
    this.events.ready(this);
    this.flush();
  }

  private readonly onClose = (): void => {
    this.verifying = false;
    clearTimeout(this.recheckTimer);
    this.stallWatch?.stop();
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
      // A retry (reads, idempotent writes) stands in front of reject; only a final failure counts.
      if (entry.cmd.isSettled && !(entry.flags & UNMETERED)) this.context.meter.failed(entry.cmd.name, "connection");
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
      for (const entry of this.queue) this.failEntry(entry, this.authError, "auth");
      this.queue = [];
      this.readyWaiters.fail(this.authError);
    }
    if (!this.closing) this.events.error(this, safe);
  };

  [inspect.custom](): string {
    return `NodeClient { shard: ${this.shard}, node: ${this.id}, status: ${this.redis.status} }`;
  }
}
