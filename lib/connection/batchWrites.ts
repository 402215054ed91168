/**
 * Writes each turn's batch of commands to the socket in one write, not one
 * write per command.
 *
 * NodeClient corks the socket around a turn's batch, and ioredis writes
 * each command on its own: every write to a corked socket is buffered by
 * Node as an object literal (`{ chunk, encoding, callback }`, in
 * Writable's writeOrBuffer). A burst of thousands of commands in one turn
 * (a preload, a cache warm-up) keeps thousands of those alive at a
 * scavenge, and V8 then pretenures that allocation site for the life of the
 * process: every later write's entry is born in the old generation and
 * keeps its command's text alive through scavenges (about 100 bytes
 * promoted per command, and in one process out of several, whichever saw
 * the burst: docs/benchmarks.md, "The garbage-collector mode").
 *
 * So while a batch is open (`cork` .. `uncork`, NodeClient's flush corking
 * the connection's batch instead of its socket), ioredis writes each
 * command's text into a collector of this connection, and `uncork` writes
 * the batch to the (corked) socket at once: one buffered write per
 * batch. A command with Buffer arguments comes as a Buffer: then the batch
 * goes as one Buffer (its text copied in). A command of LARGE or more is
 * written as it is, between what came before and after it (copying it
 * would cost more than the write it saves), and what is collected goes out
 * whenever it reaches FULL (a string has a size limit; one write per MiB
 * costs nothing that shows). Nothing else changes: ioredis
 * still checks the socket, queues each command for its reply and sets its
 * timers per command; outside a batch every write goes to the socket
 * directly, as before.
 */
import type { Redis } from "ioredis";

/** What NodeClient corks and uncorks around a turn's batch in the socket's stead (connection.ts: Connection.batch). */
export interface BatchWrites {
  cork(): void;
  uncork(): void;
}

interface Socket {
  write(chunk: string | Buffer): boolean;
  cork(): void;
  uncork(): void;
}

/** A command this large goes to the socket as it is, not copied into the batch. */
export const LARGE = 64 * 1024;
/** What is collected is written once it is this large. */
const FULL = 1024 * 1024;

/** The collector ioredis writes to during a batch: passed as sendCommand's `stream` (any object with write()). */
class Collector implements BatchWrites {
  /** The batch's text since the last Buffer. */
  private text = "";
  /** The batch so far, once a Buffer came (its text before it included). */
  private parts: Buffer[] | undefined;
  /** Characters and bytes collected. */
  private size = 0;
  private open = false;

  constructor(private readonly redis: { readonly stream: Socket | undefined | null }) {}

  get collecting(): boolean {
    return this.open;
  }

  cork(): void {
    this.redis.stream?.cork();
    this.open = true;
  }

  uncork(): void {
    this.open = false;
    this.pass();
    this.redis.stream?.uncork();
  }

  /** ioredis writes a command's text (a string), or a Buffer for commands of Buffer arguments. */
  write(chunk: string | Buffer): boolean {
    if (this.open && chunk.length < LARGE) {
      if (typeof chunk === "string") this.text += chunk;
      else {
        const parts = (this.parts ??= []);
        if (this.text !== "") parts.push(Buffer.from(this.text));
        this.text = "";
        parts.push(chunk);
      }
      this.size += chunk.length;
      if (this.size >= FULL) this.pass();
      return true;
    }
    // Order kept: what was collected goes first.
    this.pass();
    return this.redis.stream?.write(chunk) ?? false;
  }

  private pass(): void {
    const { text, parts } = this;
    this.text = "";
    this.parts = undefined;
    this.size = 0;
    if (parts === undefined) {
      if (text !== "") this.redis.stream?.write(text);
      return;
    }
    if (text !== "") parts.push(Buffer.from(text));
    this.redis.stream?.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }
}

/** ioredis's internals this relies on (Redis.js sendCommand: a `stream` argument without isPipeline is written to with write()). */
type Send = (command: unknown, stream?: unknown) => unknown;

export function batchedWrites<R extends Redis>(redis: R): R & { batch: BatchWrites } {
  const collector = new Collector(redis as unknown as { stream: Socket | null });
  const owner = redis as unknown as { sendCommand: Send; batch: BatchWrites };
  const send = owner.sendCommand;
  owner.sendCommand = function (this: R, command: unknown, stream?: unknown) {
    return send.call(this, command, stream === undefined && collector.collecting ? collector : stream);
  };
  owner.batch = collector;
  return redis as R & { batch: BatchWrites };
}
