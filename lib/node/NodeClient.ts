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

  /** Commands accepted and not yet answered, queued or in flight. */
  get outstanding(): number {
    return this.tracker.size;
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

  /** Resolves once every accepted command has settled (each within its deadline). */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled(this.tracker.pending().map((entry) => entry.cmd.promise));
  }

  async close(): Promise<void> {
    this.closing = true;
    this.tracker.stop();
    if (this.redis.status === "ready") {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, DEFAULTS.quitTimeoutMs)));
      await Promise.race([this.redis.quit().catch(() => undefined), timeout]);
      clearTimeout(timer);
    }
    this.redis.disconnect();
  }

  private expire(expired: Entry[]): void {
    for (const entry of expired) {
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
    }
    if (!this.closing) this.events.error(this, safe);
  };

  [inspect.custom](): string {
    return `NodeClient { shard: ${this.shard}, node: ${this.id}, status: ${this.redis.status} }`;
  }
}
