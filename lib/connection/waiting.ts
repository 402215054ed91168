/**
 * ioredis's rules for commands that wait for a connection, applied to
 * shardis's own queue (each NodeClient's): `enableOfflineQueue: false`
 * refuses a command while the connection is not ready; `maxRetriesPerRequest`
 * fails what waits at every (n+1)th failed attempt in a row to connect, as
 * ioredis flushes its offline queue (with ioredis's MaxRetriesPerRequestError);
 * and a connection whose retryStrategy stopped it (null, or no delay returned:
 * status "end" without a close by the client) refuses and fails
 * everything with ioredis's "Connection is closed.". Without these options,
 * commands wait for the connection within their deadline, as before.
 */
import { ConnectionError, MaxRetriesPerRequestError } from "../errors.js";

/** ioredis's message for a command of a connection that is closed for good. */
export const CONNECTION_CLOSED = "Connection is closed.";

/** The options that set the rules, as the node's connections share them. */
export interface WaitRules {
  /** false: nothing waits for a connection that is not ready. @default true */
  readonly offlineQueue?: boolean;
  /** Failed attempts in a row (plus one) after which what waits fails; null/undefined: never. */
  readonly maxRetriesPerRequest?: number | null;
}

export class Waiting {
  constructor(
    private readonly shard: string,
    private readonly node: string,
    private readonly rules: WaitRules,
  ) {}

  /** Why a command may not wait for this connection now; undefined: it may. `own`: shardis's housekeeping, which always may. */
  refusal(status: string, node: { readonly ready: boolean }, own: boolean): ConnectionError | undefined {
    if (status === "end") return this.ended();
    // The common case (the option not given) reads nothing more: this runs for every command.
    if (this.rules.offlineQueue === false && !own && !node.ready) {
      return new ConnectionError(this.shard, this.node, "Stream isn't writeable and enableOfflineQueue options is false");
    }
    return undefined;
  }

  /** After the `attempts`th failed attempt in a row: what the commands waiting fail with, if maxRetriesPerRequest says they do now. */
  exhausted(attempts: number): MaxRetriesPerRequestError | undefined {
    const max = this.rules.maxRetriesPerRequest;
    if (typeof max !== "number" || attempts % (max + 1) !== 0) return undefined;
    return new MaxRetriesPerRequestError(this.shard, this.node, max);
  }

  /** The connection stopped reconnecting (retryStrategy null, or it returned no delay): closed for good, in ioredis's words. */
  ended(cause?: Error): ConnectionError {
    return new ConnectionError(this.shard, this.node, "not reconnecting: redis.retryStrategy returned no delay", cause, CONNECTION_CLOSED);
  }
}
