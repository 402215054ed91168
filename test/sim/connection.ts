/**
 * A simulated connection, in the shape NodeClient takes from its factory
 * (lib/connection/connection.ts), with ioredis's behaviour where shardis
 * relies on it: statuses, "ready"/"error"/"close" events, reconnecting by
 * itself after a loss (never after disconnect()), and never re-sending a
 * command. Each socket carries commands to the node and replies (and
 * invalidation pushes) back in order, each way after a seeded latency, so a
 * reset at any moment may fall before a command reached the node, after it
 * ran but before its reply came back, or between two replies.
 */
import { EventEmitter } from "node:events";
import type { ShardisCommand } from "../../lib/commands/command.js";
import type { Connection, ConnectionStream } from "../../lib/connection/connection.js";
import { bulk, type Args, type Reply } from "./commands.js";
import type { Random } from "./random.js";
import type { Session, SimServer } from "./server.js";

export interface Network {
  server(address: string): SimServer | undefined;
  /** Messages on their way (either direction), for the checks to wait for a quiet network. */
  inFlight: number;
  readonly random: Random;
  /** Every connection made, so faults can pick one. */
  opened(connection: SimConnection): void;
}

/** Replies as ioredis's parser hands them over: strings (status replies) as Buffers, nested. */
function wire(reply: Reply): unknown {
  if (typeof reply === "string") return Buffer.from(reply);
  if (Array.isArray(reply)) return reply.map(wire);
  return reply;
}

function argsOf(cmd: ShardisCommand): Args {
  return cmd.args.map((arg) => (Buffer.isBuffer(arg) ? arg.toString("latin1") : Buffer.from(String(arg), "utf8").toString("latin1")));
}

/**
 * One direction of a socket: what is sent goes in order, after a latency
 * drawn per write; everything sent while a write is on its way rides with
 * it (one timer per write, not per command: thousands fewer per seed).
 */
class Pipe {
  private queue: Array<() => void> = [];
  private timer = false;

  constructor(
    private readonly socket: Socket,
    private readonly network: Network,
  ) {}

  send(deliver: () => void): void {
    this.queue.push(deliver);
    if (this.timer) return;
    this.timer = true;
    this.network.inFlight++;
    setTimeout(() => {
      this.timer = false;
      this.network.inFlight--;
      const batch = this.queue;
      this.queue = [];
      // Lost on the way if the socket died: never reached the other side.
      if (this.socket.alive) for (const deliver of batch) deliver();
    }, this.socket.latency());
  }
}

/** One TCP connection's lifetime: a session on the node, and the two directions of the pipe. */
class Socket implements ConnectionStream {
  alive = true;
  readonly session: Session;
  private readonly toServer: Pipe;
  private readonly toClient: Pipe;
  private readonly inbound: ShardisCommand[] = [];
  private busy = false;

  constructor(
    private readonly owner: SimConnection,
    readonly server: SimServer,
  ) {
    this.session = server.openSession({
      invalidate: (keys) => this.toClient.send(() => owner.emit("invalidate", keys === null ? null : keys.map((key) => Buffer.from(key, "latin1")))),
      message: (channel, message, pattern) =>
        this.toClient.send(() =>
          pattern === undefined
            ? owner.emit("messageBuffer", bulk(channel), bulk(message))
            : owner.emit("pmessageBuffer", bulk(pattern), bulk(channel), bulk(message)),
        ),
    });
    this.toServer = new Pipe(this, owner.network);
    this.toClient = new Pipe(this, owner.network);
  }

  get writable(): boolean {
    return this.alive;
  }

  cork(): void {}

  uncork(): void {}

  send(cmd: ShardisCommand): void {
    this.toServer.send(() => {
      this.inbound.push(cmd);
      this.pump();
    });
  }

  /** Ends the socket: what is on the way in either direction is lost; the node forgets the session. */
  kill(): void {
    if (!this.alive) return;
    this.alive = false;
    this.server.endSession(this.session);
  }

  /** One-way latency of the next write: a little, plus whatever slows the node down now. */
  latency(): number {
    return this.owner.network.random.int(0, 2) + this.server.extraLatencyMs;
  }

  /** Runs what arrived, in order; a blocked reply (WAIT) holds the rest, as a blocked Redis client. */
  private pump(): void {
    while (!this.busy && this.inbound.length && this.alive) {
      const cmd = this.inbound.shift()!;
      const name = cmd.name.toLowerCase();
      const reply = this.server.handle(this.session, name, argsOf(cmd));
      if (name === "quit") {
        this.reply(cmd, reply);
        this.owner.closedByServer(this);
        return;
      }
      if (reply instanceof Promise) {
        this.busy = true;
        void reply.then((value) => {
          this.busy = false;
          if (this.session.closeAfterReply) {
            // The reply is written, then the node closes the socket (Redis's CLIENT_CLOSE_AFTER_REPLY).
            this.reply(cmd, value, () => this.owner.closedByServer(this));
            return;
          }
          this.reply(cmd, value);
          this.pump();
        });
      } else this.reply(cmd, reply);
    }
  }

  private reply(cmd: ShardisCommand, reply: Reply, then?: () => void): void {
    this.toClient.send(() => {
      if (reply instanceof Error) cmd.reject(reply);
      else cmd.resolve(wire(reply));
      then?.();
    });
  }

}

export class SimConnection extends EventEmitter implements Connection {
  status = "wait";
  private socket: Socket | undefined;
  private manual = false;
  private attempts = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly address: string,
    readonly network: Network,
  ) {
    super();
    network.opened(this);
  }

  get stream(): ConnectionStream | null {
    return this.status === "ready" ? (this.socket ?? null) : null;
  }

  /** The node this connection is connected to now, if any. */
  get server(): SimServer | undefined {
    return this.socket?.alive ? this.socket.server : undefined;
  }

  async connect(): Promise<void> {
    if (this.status !== "wait" && this.status !== "end") throw new Error(`already ${this.status}`);
    this.manual = false;
    this.status = "connecting";
    this.schedule(this.network.random.int(0, 2));
  }

  sendCommand(cmd: ShardisCommand): unknown {
    if (this.status !== "ready" || !this.socket?.alive) throw new Error(`sim: write while ${this.status}`);
    this.socket.send(cmd);
    return cmd.promise;
  }

  async quit(): Promise<unknown> {
    const socket = this.socket;
    if (this.status === "ready" && socket?.alive) {
      this.manual = true;
      await new Promise<void>((resolve) => setTimeout(resolve, 2 * this.network.random.int(0, 2)));
    }
    this.disconnect();
    return "OK";
  }

  disconnect(): void {
    this.manual = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const wasOpen = this.status !== "end";
    this.socket?.kill();
    this.socket = undefined;
    this.status = "end";
    if (wasOpen) process.nextTick(() => this.emit("close"));
  }

  /** A fault: the connection is reset now (whatever is on the way is lost); it reconnects by itself. */
  reset(): void {
    if (!this.socket?.alive) return;
    this.socket.kill();
    this.lost(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
  }

  /** The node closed this socket (QUIT answered). */
  closedByServer(socket: Socket): void {
    if (socket !== this.socket) return;
    socket.kill();
    if (!this.manual) this.lost(Object.assign(new Error("Connection is closed."), { code: "ECONNRESET" }));
  }

  private schedule(delay: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.attempt();
    }, delay);
  }

  private attempt(): void {
    if (this.manual) return;
    const server = this.network.server(this.address);
    if (!server?.up) {
      this.lost(Object.assign(new Error(`connect ECONNREFUSED ${this.address}`), { code: "ECONNREFUSED" }));
      return;
    }
    this.socket = new Socket(this, server);
    this.attempts = 0;
    this.status = "ready";
    this.emit("ready");
  }

  /** As ioredis: "error", then "close", then a reconnect after a backoff (capped exponential, jittered). */
  private lost(error: Error): void {
    this.status = "reconnecting";
    this.socket = undefined;
    this.emit("error", error);
    this.emit("close");
    if (this.manual) return;
    this.attempts++;
    const ceiling = Math.min(2000, 50 * 2 ** Math.min(this.attempts - 1, 6));
    this.schedule(this.network.random.int(Math.floor(ceiling / 2), ceiling));
  }
}
