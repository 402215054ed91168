/**
 * The commands shardis sends. A ShardisCommand is an ioredis Command with a
 * hook on failure: a connection's recovery (retry a read after a lost
 * connection, re-route a write that got READONLY) looks at the error before
 * the caller sees it, without replacing the command's reject from outside.
 * CountedRead also counts cache hits and misses off GET-like replies;
 * CarriedRead settles with the caller's own object.
 */
import { Command } from "ioredis";
import type { Encoding } from "./install.js";

/** Looks at a failure first; true when it took the command over (the caller keeps waiting). */
export type Interceptor = (error: Error) => boolean;

type CommandOptions = ConstructorParameters<typeof Command>[2];

export class ShardisCommand extends Command {
  /** Set by the connection that carries the command when a failure may be recovered from. */
  interceptor: Interceptor | undefined = undefined;
  /** ioredis's own reject of the command's promise. */
  private readonly rejectPromise: (error: Error) => void;

  constructor(name: string, args: unknown[] = [], options?: CommandOptions) {
    super(name, args as never[], options);
    this.rejectPromise = this.reject;
    // ioredis rejects with reply errors (READONLY, LOADING, ...) through this; shardis's own failures use rejectFinal.
    this.reject = interceptedReject;
  }

  /** Rejects the caller's promise, past the interceptor. */
  rejectFinal(error: Error): void {
    hideArguments(error);
    this.rejectPromise(error);
  }

  /** The same command, unsent, for sending again after this one was refused whole (a cluster's MOVED on a block). */
  clone(): ShardisCommand {
    const Kind = this.constructor as new (name: string, args: unknown[], options?: CommandOptions) => ShardisCommand;
    // ioredis keeps the reply encoding on the command, undeclared in its types.
    return new Kind(this.name, this.args, { replyEncoding: (this as unknown as { replyEncoding: BufferEncoding | null }).replyEncoding });
  }
}

/** One function for every command (ioredis always calls it as command.reject(error)), not a closure each. */
function interceptedReject(this: ShardisCommand, error: Error): void {
  if (!this.interceptor?.(error)) this.rejectFinal(error);
}

/** Commands whose nil reply means "not in the cache". */
const GET_LIKE = new Set(["get", "getex", "getdel", "hget", "mget", "hmget"]);

/**
 * Cache hits and misses, read off the replies of GET-like commands: a nil
 * reply (or nil element of MGET/HMGET) is a miss, anything else a hit. The
 * count rides on the command itself, so it costs nothing for other commands.
 */
export class CountedRead extends ShardisCommand {
  hits = 0;
  misses = 0;

  override transformReply(result: Buffer | Buffer[]): string | string[] | Buffer | Buffer[] {
    const reply = result as unknown;
    if (Array.isArray(reply)) {
      for (const item of reply) {
        if (item === null) this.misses++;
        else this.hits++;
      }
    } else if (reply === null) this.misses++;
    else this.hits++;
    return super.transformReply(result);
  }
}

/** What a CarriedRead settles with: the caller's own object, the reply (a Buffer, or null) put on it. */
export interface Carried {
  raw: Buffer | null;
}

/** How a CarriedRead fails: the caller's object and what went wrong. */
export class CarriedFailure<C extends Carried = Carried> {
  constructor(
    readonly carried: C,
    readonly error: Error,
  ) {}
}

/**
 * ioredis puts the failing command on reply errors (`error.command.args`:
 * values, tokens). Callers keep reading it by name; inspect(), JSON and
 * loggers no longer print it. Failures only: nothing on the hot path.
 */
export function hideArguments(error: unknown): void {
  if (typeof error !== "object" || error === null) return;
  const own = Object.getOwnPropertyDescriptor(error, "command");
  if (own?.enumerable && typeof own.value === "object" && own.value !== null) Object.defineProperty(error, "command", { ...own, enumerable: false });
}

/** The same error without the command ioredis put on it (class, message and stack kept), for reports that must not carry arguments. */
export function withoutArguments(error: unknown): unknown {
  if (typeof error !== "object" || error === null || !Object.hasOwn(error, "command")) return error;
  const copy = Object.create(Object.getPrototypeOf(error) as object) as object;
  for (const key of Reflect.ownKeys(error)) if (key !== "command") Object.defineProperty(copy, key, Object.getOwnPropertyDescriptor(error, key)!);
  return copy;
}

/** The error itself, out of a CarriedFailure (for those who report failures: traces). */
export function failureOf(reason: unknown): unknown {
  return reason instanceof CarriedFailure ? reason.error : reason;
}

/**
 * A GET whose promise settles with the caller's object, the reply put on
 * it, or fails with a CarriedFailure naming it. One handler per caller then
 * serves every read (no closure per read to remember which read a reply
 * belongs to): the cache's hit path, where those closures cost a third of
 * what the cache adds to a GET.
 */
export class CarriedRead<C extends Carried> extends CountedRead {
  constructor(
    key: unknown,
    readonly carried: C,
  ) {
    super("get", [key], { replyEncoding: null });
  }

  override transformReply(result: Buffer | Buffer[]): never {
    this.carried.raw = super.transformReply(result) as Buffer | null;
    // The command's promise resolves with the caller's object; ioredis's types say the reply.
    return this.carried as never;
  }

  override rejectFinal(error: Error): void {
    hideArguments(error);
    super.rejectFinal(new CarriedFailure(this.carried, error) as unknown as Error);
  }

  override clone(): ShardisCommand {
    return new CarriedRead(this.args[0], this.carried);
  }
}

/** The command for a call (names arrive lower-cased): counted when it is GET-like. */
export function buildCommand(name: string, args: unknown[], encoding: Encoding): ShardisCommand {
  const Kind = GET_LIKE.has(name) ? CountedRead : ShardisCommand;
  return new Kind(name, args, { replyEncoding: encoding });
}

/** shardis's own commands (ROLE, PING, INFO, WAIT, MULTI, ...). */
export function internalCommand(name: string, args: unknown[] = [], encoding: Encoding = "utf8"): ShardisCommand {
  return new ShardisCommand(name, args, { replyEncoding: encoding });
}
