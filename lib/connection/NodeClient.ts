/**
 * One connection to one Redis node: queues the commands sent to it, writes each event-loop turn's commands in one
 * corked write, enforces every command's deadline, checks on connect that the node has the role it was sent as, feeds
 * the node's circuit breaker, and turns connection trouble into typed errors that name the shard and address. The
 * connection itself comes from a factory (ioredis by default), and everything it counts goes to an observer, so this
 * logic is tested without a server.
 */
import { inspect } from "node:util";
import { formatAddress } from "../config/address.js";
import type { Address } from "../config/types.js";
import { DEFAULTS } from "../config/defaults.js";
import type { ShardisCommand } from "../commands/command.js";
import type { BlockCommand } from "../commands/block.js";
import type { AuthenticationError, CircuitOpenError, ConnectionError, DatabaseError } from "../errors.js";
import type { Connection } from "./connection.js";
import type { MessageHandlers, NodeClientInit, NodeContext, NodeEvents } from "./context.js";
import { DeadlineTracker } from "./deadlines.js";
import { askingFor, BLOCK, Entry, INTERNAL, PROBE, type Pin } from "./entry.js";
import { NodeFailures } from "./failures.js";
import { InFlight } from "./inflight.js";
import { Link } from "./link.js";
import type { FailOutcome } from "./observer.js";
import { recoveryHost, roleCheckHost } from "./nodeHosts.js";
import { Recovery } from "./recovery.js";
import { RoleCheck } from "./roleCheck.js";
import { sanitizeError } from "./sanitize.js";
import { Handshake } from "./handshake.js";
import { listenForInvalidations } from "./tracking.js";
import { quitWithin, writeOnConnect } from "./onConnect.js";
import { ReadyWaiters } from "./readyWaiters.js";
import { StallWatch } from "./stallWatch.js";
import { WriteQueue } from "./writeQueue.js";
import { outsideCallers } from "./outside.js";
import { Waiting } from "./waiting.js";

export { BLOCK, INTERNAL, Pin, PROBE, RETRYABLE } from "./entry.js";
export type { Entry, SessionState } from "./entry.js";
export type { MessageHandlers, NodeClientInit, NodeContext, NodeEvents, NodeRole } from "./context.js";
export { NEVER_OPENS } from "./context.js";

/** Commands that are not counted or traced: shardis's own probes and health checks. */
const UNMETERED = PROBE | INTERNAL;

export class NodeClient {
  /** "host:port": how the node is named in errors, events and metrics. */
  readonly id: string;
  readonly shard: string;
  readonly address: Address;
  readonly context: NodeContext;
  private readonly connection: Connection;
  private readonly events: NodeEvents;
  private readonly queue: WriteQueue;
  private readonly tracker = new DeadlineTracker<Entry>((expired) => this.expire(expired));
  private readonly inflight = new InFlight();
  private readonly recovery: Recovery;
  private readonly role: RoleCheck;
  private readonly link = new Link();
  private readonly failures: NodeFailures;
  private readonly waiting: Waiting;
  closing = false;
  /** Lent to a borrower by the node's pool (it may hold a MULTI open): nothing of shardis's own is sent meanwhile. */
  lent = false;
  private lastError: Error | undefined;
  private readonly handshake = new Handshake();
  private readonly readyWaiters = new ReadyWaiters();
  /** Not to be lent again until it reconnects: replies may lag their requests, or a borrower left WATCH/MULTI set. */
  private unfit: "lagging" | "state" | undefined;
  private readonly stallWatch: StallWatch | undefined;
  /** SHA1s of scripts this connection's server is known to have cached (cleared on reconnect). */
  readonly knownScripts = new Set<string>();
  /** Stops listening to the breaker (on close). */
  private readonly unwatchBreaker: () => void;

  constructor(init: NodeClientInit) {
    this.shard = init.shard;
    this.address = init.address;
    this.context = init.context;
    this.queue = new WriteQueue(init.scheduler, init.context.maxWriteDelayMs, () => this.flush());
    this.events = init.events;
    this.id = formatAddress(init.address);
    this.failures = new NodeFailures(this.shard, this.id);
    this.waiting = new Waiting(this.shard, this.id, init.context);
    this.connection = init.connections(init.address);
    this.connection.on("ready", this.onConnected).on("close", this.onClose).on("error", this.onError).on("end", this.onEnd);
    this.connection.on("reconnecting", (delay) => void (this.closing || this.events.reconnecting?.(this, delay)));
    if (init.context.tracking) listenForInvalidations(this.connection, init.context.tracking, this);
    this.recovery = new Recovery(recoveryHost(this, (entries) => this.requeue(entries)));
    this.role = new RoleCheck(
      roleCheckHost(this, {
        send: (cmd) => this.connection.sendCommand(cmd),
        confirmed: () => this.onReady(),
        mismatch: (error, first) => {
          this.lastError = error;
          if (first) this.events.error(this, error);
        },
      }),
    );
    // Dedicated connections carry blocking commands, unanswered for long by design: no stall watch there.
    const { breaker, detectStalls } = this.context;
    const stallMs = breaker.stallMs;
    if (detectStalls && stallMs !== undefined) {
      const oldestAge = () => (this.onAnswered(), this.inflight.oldestAge(performance.now()));
      this.stallWatch = new StallWatch(stallMs, oldestAge, (reason) => breaker.trip(reason));
    }
    this.unwatchBreaker = breaker.onOpen(this.failQueued);
  }

  /** Connections lost after being up: state set up on one (WATCH, MULTI) lives while this stays the same. */
  get generation(): number {
    return this.link.generation;
  }

  /** Whether the WATCH/MULTI `pin` stands for is still on this connection (no connection was lost since). */
  holds(pin: Pin): boolean {
    return pin.generation === this.link.generation;
  }

  /** The connection's status as ioredis names it (wait, connecting, ready, reconnecting, end, ...). */
  get status(): string {
    return this.connection.status;
  }

  /** Connected, with its role confirmed: commands are written now. */
  get ready(): boolean {
    return this.connection.status === "ready" && !this.role.holding;
  }

  /** Ready, and safe to hand to a new borrower (dedicated connections). */
  get reusable(): boolean {
    return this.ready && this.unfit === undefined && !this.closing;
  }

  /** The server may hold state a borrower set up here and could not clear (its UNWATCH failed): not lent again. */
  keepsState(): void {
    this.unfit = "state";
  }

  /** The node refused this connection's handshake (credentials, SELECT), until a connection is ready again. */
  get handshakeRefusal(): AuthenticationError | DatabaseError | undefined {
    return this.handshake.refusal;
  }

  /** Whether the node's breaker lets commands through now. */
  get admits(): boolean {
    return this.context.breaker.admits;
  }

  /** What a command gets while the breaker is open; once the connection ended for good, ioredis's "Connection is closed." (waiting.ts). */
  circuitOpenError(): CircuitOpenError | ConnectionError {
    return this.connection.status === "end" && !this.closing ? this.waiting.ended(this.lastError) : this.failures.circuitOpen(this.context.breaker);
  }

  /** Accepted commands not yet written (waiting for the connection or this turn's flush). */
  get queued(): number {
    return this.queue.length;
  }

  /** Written commands still waiting for their reply. */
  get unanswered(): number {
    return this.inflight.unanswered();
  }

  /** Resolves when the connection is ready; rejects after timeoutMs or on an authentication failure. */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve();
    this.connect();
    return this.readyWaiters.wait(timeoutMs, () => this.failures.notReady(timeoutMs, this.lastError));
  }

  /** Pub/sub deliveries on this connection (it must have sent SUBSCRIBE or PSUBSCRIBE), binary-safe. */
  onMessage(handlers: MessageHandlers): void {
    this.connection.on("messageBuffer", handlers.message).on("pmessageBuffer", handlers.pmessage).on("smessageBuffer", handlers.smessage);
  }

  connect(): void {
    // Failures surface through the "error" and "close" events; the promise adds nothing.
    if (this.connection.status === "wait") outsideCallers(this.openConnection);
  }

  /** Opens the connection; its handshake and ROLE check belong to no caller (outside.ts). */
  private readonly openConnection = (): void => {
    this.connection.connect().catch(() => undefined);
  };

  /**
   * Queues a command for this turn's write. Fails fast, without touching the socket, when the breaker is open, credentials
   * were refused, too many commands already wait for the connection, or the WATCH/MULTI the command is pinned to was lost
   * with an earlier connection. A BlockCommand (flag BLOCK) is one entry: accepted or refused whole.
   */
  send(cmd: ShardisCommand, timeoutMs: number, flags = 0, pin?: Pin): Promise<unknown> {
    // Closed (or closing): its deadlines are no longer watched, so nothing may wait here.
    if (this.closing) return this.refuse(cmd, flags, this.failures.closed(undefined), "closed");
    const mayNotWait = this.waiting.refusal(this.connection.status, this, (flags & UNMETERED) !== 0);
    if (mayNotWait) return this.refuse(cmd, flags, mayNotWait, "connection");
    // The refusal first: it says what to fix, the breaker it opened would not.
    const refusal = this.handshake.refusal;
    if (refusal) return this.refuse(cmd, flags, refusal, this.handshake.outcome);
    if (!(flags & PROBE) && !this.context.breaker.admits) return this.refuse(cmd, flags, this.circuitOpenError(), "circuit_open");
    if (this.queue.length >= this.context.maxQueueLength && !this.ready) {
      return this.refuse(cmd, flags, this.failures.queueFull(this.context.maxQueueLength), "queue_full");
    }
    if (pin && !this.holds(pin)) return this.refuse(cmd, flags, this.failures.stateLost(pin), "connection");
    const now = performance.now();
    const entry = new Entry(cmd, now + timeoutMs, timeoutMs, flags, now);
    entry.pin = pin;
    const sending = this.context.sending;
    if (sending) {
      const tracked = this.context.tracking !== undefined;
      // A block's parts are seen one by one, as the connection will write them.
      if (flags & BLOCK) for (const part of (cmd as BlockCommand).head) sending(part, tracked, this);
      sending(cmd, tracked, this);
    }
    // Traced before it is queued: accept() may write it at once.
    if (!(flags & UNMETERED)) entry.trace = this.context.observer.accepted(cmd, this.id, now);
    this.accept(entry, now);
    if (this.connection.status === "wait") this.connect();
    return cmd.promise;
  }

  private refuse(cmd: ShardisCommand, flags: number, error: Error, outcome: FailOutcome): Promise<unknown> {
    if (!(flags & UNMETERED)) this.context.observer.failed(cmd.name, outcome);
    cmd.rejectFinal(error);
    return cmd.promise;
  }

  /** Fails an accepted entry past any recovery, and reports it. */
  private failEntry(entry: Entry, error: Error, outcome: FailOutcome): void {
    const settled = entry.cmd.isSettled; // already answered or failed elsewhere: reported there
    entry.fail(error);
    if (!settled && !(entry.flags & UNMETERED)) this.context.observer.failed(entry.cmd.name, outcome);
  }

  /**
   * Takes over an entry another connection accepted (failover, READONLY, MOVED): same command, deadline and caller.
   * `asking`: ASKING goes right before it, on this connection, so the node serves a slot it is importing (a cluster's ASK redirect).
   */
  adopt(entry: Entry, asking = false): void {
    if (entry.isDone()) return;
    if (this.closing) {
      entry.moved = true;
      this.failEntry(entry, this.failures.closed(undefined), "closed");
      return;
    }
    if (entry.pin) {
      // Its WATCH or MULTI lives on the connection it came from: elsewhere it would run without them.
      entry.moved = true;
      this.failEntry(entry, this.failures.stateLost(entry.pin), "connection");
      return;
    }
    const mine = entry.handOver();
    mine.trace?.movedTo(this.id);
    if (!this.context.breaker.admits) {
      this.failEntry(mine, this.circuitOpenError(), "circuit_open");
      return;
    }
    // Both join the queue now, back to back: nothing can come between them on the connection.
    const now = performance.now();
    if (asking) this.accept(askingFor(mine, now), now);
    this.accept(mine, now);
    this.connect();
  }

  /** Hands every command still waiting for a connection to another node (failover). */
  handOverQueued(to: NodeClient): void {
    for (const entry of this.queue.take()) {
      entry.trace?.note("handover", to.id);
      to.adopt(entry);
    }
  }

  /** Queues an entry for this turn's write, or writes now when the turn has run long (WriteQueue). */
  private accept(entry: Entry, now: number): void {
    this.recovery.watch(entry);
    this.tracker.add(entry);
    // A write now carries commands of other callers queued this turn: outside this caller's context (outside.ts).
    if (this.queue.add(entry, now) && this.ready) outsideCallers(this.flushNow);
    else this.queue.markDirty();
  }

  private readonly flushNow = (): void => this.flush();

  /** Writes everything queued in one corked write, if the connection is ready. */
  flush(): void {
    const stream = this.connection.stream;
    if (this.queue.length === 0 || !this.ready || !stream?.writable) return;
    const batch = this.queue.take();
    let last: ShardisCommand | undefined;
    let written = 0;
    let traced = false;
    (this.connection.batch ?? stream).cork();
    for (const entry of batch) {
      if (entry.isDone()) continue; // expired or handed over while queued: never send it here
      if (entry.pin && !this.holds(entry.pin)) {
        // Queued while the connection was down: the WATCH/MULTI it depends on went with the old one.
        this.failEntry(entry, this.failures.stateLost(entry.pin), "connection");
        continue;
      }
      entry.written = true;
      last = entry.cmd;
      written++;
      traced ||= entry.trace !== undefined;
      if (entry.flags & BLOCK) for (const part of (entry.cmd as BlockCommand).head) this.connection.sendCommand(part);
      this.connection.sendCommand(entry.cmd);
    }
    (this.connection.batch ?? stream).uncork();
    this.tracker.prune();
    if (last) {
      this.context.observer.written(written);
      const now = performance.now();
      // A second pass only when someone traces: the batch size is known once the write is done.
      if (traced) for (const entry of batch) if (entry.trace && entry.written) entry.trace.written(now, written);
      this.inflight.add(batch, last, now);
      last.promise.then(this.onAnswered, this.onAnswered);
    }
  }

  /** For quit(): settles once every accepted command with a deadline has (commands blocking indefinitely are not awaited). */
  async drain(): Promise<void> {
    this.flush();
    const bounded = this.tracker.pending().filter((entry) => entry.deadline !== Infinity);
    await Promise.allSettled(bounded.map((entry) => entry.cmd.promise));
  }

  /** Sends QUIT (bounded wait) and closes; `force` drops the socket at once, failing what is in flight. */
  async close(force = false): Promise<void> {
    this.closing = true;
    this.context.reauth?.delete(this);
    this.unwatchBreaker();
    this.tracker.stop();
    this.role.reset();
    this.stallWatch?.stop();
    if (this.connection.status === "ready" && !force) await quitWithin(this.connection, DEFAULTS.quitTimeoutMs);
    this.connection.disconnect();
    // Nothing may wait for a connection that is gone. Unsent commands were never applied; sent ones may have been.
    for (const entry of [...this.tracker.pending(), ...this.recovery.drop()]) {
      this.failEntry(entry, this.failures.closed(entry), entry.written ? "connection" : "closed");
    }
    this.queue.take();
    this.readyWaiters.close(this.failures.closed(undefined));
  }

  /** The layout changed this node's role (a replica promoted, a master demoted): a held connection checks again. */
  roleChanged(): void {
    if (this.connection.status === "ready") this.role.expectationChanged();
  }

  private requeue(entries: Entry[]): void {
    for (const entry of entries) {
      if (!this.context.breaker.admits) this.failEntry(entry, this.circuitOpenError(), "circuit_open");
      else this.queue.requeue(entry);
    }
    if (this.queue.length) this.queue.markDirty();
  }

  /** The breaker opened: what waits to be written fails now, as new commands do (written ones await their replies). */
  private readonly failQueued = (): void => {
    if (this.queue.length && !this.closing) this.failWaiting(this.circuitOpenError(), "circuit_open");
  };

  /** What waits to be written fails now (written ones await their replies). */
  private failWaiting(error: Error, outcome: FailOutcome): void {
    for (const entry of this.queue.take()) if (!entry.isDone()) this.failEntry(entry, error, outcome);
  }

  /** ioredis stopped reconnecting (retryStrategy returned no delay): nothing may wait for it (waiting.ts), ready() callers neither. */
  private readonly onEnd = (): void => {
    if (this.closing) return;
    const ended = this.waiting.ended(this.lastError);
    this.failWaiting(ended, "connection");
    this.readyWaiters.close(ended);
  };

  private readonly onAnswered = (): void => {
    const answered = this.inflight.collect(performance.now(), this.context.observer);
    if (answered) this.context.breaker.record(answered, 0);
  };

  private expire(expired: Entry[]): void {
    for (const entry of expired) {
      if (entry.written) this.unfit ??= "lagging";
      entry.failed = true;
      this.failEntry(entry, this.failures.timeout(entry, this.lastError), "timeout");
    }
    this.context.breaker.record(0, expired.length);
    if (this.queue.length && !this.ready) this.queue.retain((entry) => !entry.isDone());
  }

  /** Connected (handshake done): the node is reachable, whatever its role; check the role, then go. */
  private readonly onConnected = (): void => {
    // Connected, but SELECT was refused: never used; ioredis reconnects (with backoff) and asks again.
    if (this.handshake.wrongDatabase) return void this.connection.disconnect(true);
    this.link.connected();
    this.role.connected();
  };

  private onReady(): void {
    if (this.link.up()) this.context.nodeObserver.reconnected();
    this.lastError = undefined;
    this.handshake.refusal = undefined;
    this.unfit = undefined;
    this.knownScripts.clear();
    this.stallWatch?.start();
    writeOnConnect(this.connection, this.context, this);
    this.context.reauth?.add(this);
    this.readyWaiters.ready();
    this.events.ready(this);
    this.flush();
  }

  private readonly onClose = (): void => {
    this.handshake.wrongDatabase = false;
    // Whatever a caller set up on this connection (WATCH, MULTI) is gone with it: the generation moves on.
    const loss = this.link.lost();
    this.context.tracking?.lost(this);
    this.context.reauth?.delete(this);
    this.role.reset();
    this.stallWatch?.stop();
    this.inflight.clear();
    let lost = 0;
    for (const entry of this.tracker.pending()) {
      if (!entry.written) continue;
      lost++;
      entry.failed = true;
      // Through the command's interceptor: a retry (reads, idempotent writes) may take it over.
      entry.cmd.reject(this.failures.lostInFlight(this.lastError));
      if (entry.cmd.isSettled && !(entry.flags & UNMETERED)) this.context.observer.failed(entry.cmd.name, "connection");
    }
    if (this.closing) return;
    const exhausted = this.waiting.exhausted(loss.attempts);
    if (exhausted) this.failWaiting(exhausted, "connection");
    this.context.breaker.record(0, lost);
    if (loss.gone) this.context.breaker.trip(`connection lost and not re-established${this.lastError ? `: ${this.lastError.message}` : ""}`);
    if (loss.first) this.events.down(this, this.lastError);
  };

  private readonly onError = (error: unknown): void => {
    const safe = sanitizeError(error);
    this.lastError = safe;
    const refusal = this.handshake.failed(error, safe, this.shard, this.id);
    if (refusal) {
      for (const entry of this.queue.take()) this.failEntry(entry, refusal, this.handshake.outcome);
      this.readyWaiters.fail(refusal);
    }
    if (!this.closing) this.events.error(this, refusal ?? safe);
  };

  [inspect.custom](): string {
    return `NodeClient { shard: ${this.shard}, node: ${this.id}, status: ${this.connection.status} }`;
  }
}
