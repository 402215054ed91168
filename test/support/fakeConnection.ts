/**
 * A stand-in for an ioredis connection, for logic tests without a server:
 * commands are recorded as written, and the test answers them in order (as
 * a node would), drops the connection, or refuses it. ROLE is answered from
 * `role`; anything else waits for the test unless `autoReply` answers it.
 * Used with vi.useFakeTimers(), so deadlines and backoffs run in fake time.
 */
import { EventEmitter } from "node:events";
import { ReplyError } from "ioredis";
import type { ShardisCommand } from "../../lib/commands/command.js";
import { formatAddress } from "../../lib/config/address.js";
import type { Address } from "../../lib/config/types.js";
import type { Connection, ConnectionFactory, ConnectionStream } from "../../lib/connection/connection.js";

export class FakeStream implements ConnectionStream {
  writable = true;
  /** How many corked writes happened (one per flushed batch). */
  writes = 0;
  private corked = false;

  cork(): void {
    this.corked = true;
  }

  uncork(): void {
    if (this.corked) this.writes++;
    this.corked = false;
  }
}

export class FakeConnection extends EventEmitter implements Connection {
  status = "wait";
  stream: FakeStream | null = null;
  /** Every command written, in order. */
  readonly written: ShardisCommand[] = [];
  /** Written and not yet answered; replies settle them in order. */
  readonly pending: ShardisCommand[] = [];
  /** What ROLE answers: "master" or "slave", or an error reply (an ACL's NOPERM). */
  role: string | Error = "master";
  /** What connect() does: succeed, fail (refused), or never finish. */
  onConnect: "ready" | "refuse" | "hang" = "ready";
  /** Answers commands as they are written; return undefined to leave one for the test. */
  autoReply: ((cmd: ShardisCommand) => unknown) | undefined;
  connects = 0;

  constructor(readonly address: string) {
    super();
  }

  async connect(): Promise<void> {
    this.connects++;
    this.status = "connecting";
    await Promise.resolve();
    if (this.onConnect === "hang") return;
    if (this.onConnect === "refuse") {
      this.fail(Object.assign(new Error(`connect ECONNREFUSED ${this.address}`), { code: "ECONNREFUSED" }));
      throw new Error("refused");
    }
    this.up();
  }

  sendCommand(cmd: ShardisCommand): unknown {
    if (this.status !== "ready") throw new Error(`fake: write while ${this.status}`);
    this.written.push(cmd);
    if (cmd.name === "role") {
      if (this.role instanceof Error) cmd.reject(this.role);
      else cmd.resolve([this.role]);
      return cmd.promise;
    }
    const auto = this.autoReply?.(cmd);
    if (auto !== undefined) {
      if (auto instanceof Error) cmd.reject(auto);
      else cmd.resolve(auto);
    } else this.pending.push(cmd);
    return cmd.promise;
  }

  /** Answers the oldest unanswered command. */
  reply(value: unknown): ShardisCommand {
    const cmd = this.pending.shift();
    if (!cmd) throw new Error("fake: nothing to reply to");
    cmd.resolve(value);
    return cmd;
  }

  /** Answers the oldest unanswered command with a Redis error reply. */
  replyError(message: string): ShardisCommand {
    const cmd = this.pending.shift();
    if (!cmd) throw new Error("fake: nothing to reply to");
    cmd.reject(new ReplyError(message));
    return cmd;
  }

  /** Names of the commands written so far (ROLE included). */
  names(): string[] {
    return this.written.map((c) => c.name);
  }

  /** The connection comes up (first time, or after drop()). */
  up(): void {
    this.status = "ready";
    this.stream = new FakeStream();
    this.emit("ready");
  }

  /** The connection is lost; as ioredis with autoResendUnfulfilledCommands off, unanswered commands stay unsettled. */
  drop(error: Error = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })): void {
    this.pending.length = 0;
    this.fail(error);
  }

  /** A (re)connection attempt fails: refused, as ioredis reports it before its next retry. */
  failAttempt(): void {
    this.fail(Object.assign(new Error(`connect ECONNREFUSED ${this.address}`), { code: "ECONNREFUSED" }));
  }

  /** ioredis gives up reconnecting (its retryStrategy returned no delay): "end", for good. */
  giveUp(): void {
    this.status = "end";
    this.emit("end");
  }

  /** A connection-level error (AUTH refused, ...), without losing the connection. */
  error(message: string): void {
    this.emit("error", new ReplyError(message));
  }

  async quit(): Promise<string> {
    this.disconnect();
    return "OK";
  }

  disconnect(): void {
    if (this.status === "end") return;
    this.status = "end";
    this.stream = null;
    // As a socket: "close" comes on a later tick, not inside disconnect().
    process.nextTick(() => this.emit("close"));
  }

  /** Pub/sub delivery, as a subscribed ioredis connection emits it. */
  deliver(channel: string, message: string | Buffer): void {
    this.emit("messageBuffer", Buffer.from(channel), Buffer.from(message));
  }

  deliverPattern(pattern: string, channel: string, message: string): void {
    this.emit("pmessageBuffer", Buffer.from(pattern), Buffer.from(channel), Buffer.from(message));
  }

  private fail(error: Error): void {
    this.status = "reconnecting";
    this.stream = null;
    this.emit("error", error);
    this.emit("close");
  }
}

/** A factory of fake connections, remembering every one it made, by address. */
export function fakeConnections(setup?: (connection: FakeConnection) => void) {
  const made = new Map<string, FakeConnection[]>();
  const factory: ConnectionFactory = (address: Address) => {
    const key = formatAddress(address);
    const connection = new FakeConnection(key);
    setup?.(connection);
    made.set(key, [...(made.get(key) ?? []), connection]);
    return connection;
  };
  return {
    factory,
    /** Every connection made to this address, oldest first. */
    all: (address: string) => made.get(address) ?? [],
    /** The first connection made to this address (the shared one). */
    first(address: string): FakeConnection {
      const connection = made.get(address)?.[0];
      if (!connection) throw new Error(`fake: no connection to ${address}`);
      return connection;
    },
    count: () => [...made.values()].reduce((n, list) => n + list.length, 0),
  };
}
