/**
 * One Redis node behind one shared connection: queues the commands routed to
 * it, writes each event-loop turn's commands in one corked write, enforces
 * every command's deadline, and turns connection trouble into typed errors
 * that name the shard and address.
 */
import { inspect } from "node:util";
import { Redis, type Command } from "ioredis";
import { formatAddress } from "../config/address.js";
import type { Address, RedisConnectionOptions } from "../config/types.js";
import { DEFAULTS } from "../config/defaults.js";
import { AuthenticationError, ConnectionError, TimeoutError } from "../errors.js";
import { connectionOptions } from "./connectionOptions.js";
import { DeadlineTracker, type Deadlined } from "./deadlines.js";
import { isAuthFailure, sanitizeError } from "./sanitize.js";
import type { FlushScheduler, Flushable } from "./scheduler.js";

export interface NodeEvents {
  ready(node: NodeClient): void;
  down(node: NodeClient, cause: Error | undefined): void;
  error(node: NodeClient, error: Error): void;
}

class Entry implements Deadlined {
  /** Handed to the socket; from then on a lost connection leaves its outcome unknown. */
  written = false;

  constructor(
    readonly cmd: Command,
    readonly deadline: number,
    readonly timeoutMs: number,
  ) {}

  isDone(): boolean {
    return this.cmd.isSettled;
  }
}

export class NodeClient implements Flushable {
  /** "host:port": how the node is named in errors, events and metrics. */
  readonly id: string;
  private readonly redis: Redis;
  private queue: Entry[] = [];
  private readonly tracker = new DeadlineTracker<Entry>((expired) => this.expire(expired));
  private marked = false;
  private up: boolean | undefined;
  private closing = false;
  private lastError: Error | undefined;
  private authError: AuthenticationError | undefined;
  private readyWaiters: Array<{ ready(): void; failed(error: Error): void }> = [];
  /** A written command expired unanswered: replies on this connection may lag its requests. */
  private expiredInFlight = false;
  /** SHA1s of scripts this connection's server is known to have cached (cleared on reconnect). */
  readonly knownScripts = new Set<string>();

  constructor(
    readonly shard: string,
    readonly address: Address,
    redisOptions: Readonly<RedisConnectionOptions>,
    private readonly scheduler: FlushScheduler,
    private readonly events: NodeEvents,
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

  send(cmd: Command, timeoutMs: number): Promise<unknown> {
    if (this.authError) {
      cmd.reject(this.authError);
      return cmd.promise;
    }
    const entry = new Entry(cmd, performance.now() + timeoutMs, timeoutMs);
    this.tracker.add(entry);
    this.queue.push(entry);
    if (!this.marked) {
      this.marked = true;
      this.scheduler.mark(this);
    }
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
    stream.cork();
    for (const entry of batch) {
      if (entry.cmd.isSettled) continue; // expired while queued: never send it late
      entry.written = true;
      this.redis.sendCommand(entry.cmd);
    }
    stream.uncork();
    this.tracker.prune();
  }

  /** Resolves once every accepted command with a deadline has settled; commands that block indefinitely are not awaited. */
  async drain(): Promise<void> {
    this.flush();
    const bounded = this.tracker.pending().filter((entry) => entry.deadline !== Infinity);
    await Promise.allSettled(bounded.map((entry) => entry.cmd.promise));
  }

  /** Sends QUIT (bounded wait) and closes; `force` drops the socket at once, failing what is in flight. */
  async close(force = false): Promise<void> {
    this.closing = true;
    this.tracker.stop();
    if (this.redis.status === "ready" && !force) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, DEFAULTS.quitTimeoutMs)));
      await Promise.race([this.redis.quit().catch(() => undefined), timeout]);
      clearTimeout(timer);
    }
    this.redis.disconnect();
    // Written commands were failed by the close event; nothing queued may wait for a connection that is gone.
    for (const entry of this.tracker.pending()) {
      entry.cmd.reject(new ConnectionError(this.shard, this.id, "the connection was closed by the client"));
    }
    this.queue = [];
  }

  private expire(expired: Entry[]): void {
    for (const entry of expired) {
      if (entry.written) this.expiredInFlight = true;
      const detail = entry.written
        ? "the node did not answer"
        : this.lastError
          ? `not connected: ${this.lastError.message}`
          : "still connecting";
      entry.cmd.reject(new TimeoutError(this.shard, this.id, entry.timeoutMs, detail, this.lastError));
    }
    if (this.queue.length && !this.ready) this.queue = this.queue.filter((entry) => !entry.cmd.isSettled);
  }

  private readonly onReady = (): void => {
    this.up = true;
    this.lastError = undefined;
    this.authError = undefined;
    this.expiredInFlight = false;
    this.knownScripts.clear();
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) waiter.ready();
    this.events.ready(this);
    this.flush();
  };

  private readonly onClose = (): void => {
    for (const entry of this.tracker.pending()) {
      if (!entry.written) continue;
      entry.cmd.reject(
        new ConnectionError(
          this.shard,
          this.id,
          "connection lost with the command in flight; it may or may not have been applied",
          this.lastError,
        ),
      );
    }
    if (this.up !== false && !this.closing) {
      this.up = false;
      this.events.down(this, this.lastError);
    }
  };

  private readonly onError = (error: unknown): void => {
    const safe = sanitizeError(error);
    this.lastError = safe;
    if (isAuthFailure(safe)) {
      this.authError = new AuthenticationError(this.shard, this.id, safe.message);
      for (const entry of this.queue) entry.cmd.reject(this.authError);
      this.queue = [];
      for (const waiter of [...this.readyWaiters]) waiter.failed(this.authError);
    }
    if (!this.closing) this.events.error(this, safe);
  };

  [inspect.custom](): string {
    return `NodeClient { shard: ${this.shard}, node: ${this.id}, status: ${this.redis.status} }`;
  }
}
