/**
 * What one client's traces carry besides the call itself (the client, its
 * database, whether arguments go in) and whether it publishes on ioredis's
 * channels; and the way its facades start a call's trace.
 */
import { traceCall, type CallTrace } from "./tracing.js";

/** Where a ShardedClient hands its ClientTracing to shardis/otel (not public API). */
export const TRACING = Symbol("shardis.tracing");

type CallFields = Partial<Pick<CallTrace, "script" | "namespace" | "batchSize">>;

export class ClientTracing {
  /**
   * Publish each caller's command on ioredis's own channels (ioredis:command,
   * ioredis:batch), as ioredis would, for tools that subscribe there (Sentry).
   * shardis/otel turns it off for the client it instruments: one span per command.
   */
  ioredisChannels = true;

  constructor(
    /** The ShardedClient, on every context (subscribers tell clients apart by it). */
    readonly client: object,
    readonly db: number,
    /** Put command arguments (keys, values) in contexts (shardis/otel turns it on for db.query.text when asked). */
    public includeArgs: boolean,
  ) {}

  /** Runs fn traced as a call on shardis:call (callers check callsTraced() first). */
  call<T>(kind: CallTrace["kind"], operation: string, args: readonly unknown[] | undefined, fn: () => Promise<T>, fields?: CallFields): Promise<T> {
    const trace: CallTrace = { client: this.client, kind, operation, db: this.db, shards: 0, batchSize: 0, nearCache: false, durationMs: 0 };
    if (fields !== undefined) Object.assign(trace, fields);
    if (this.includeArgs && args !== undefined) (trace as { args?: unknown[] }).args = [...args];
    return traceCall(trace, fn);
  }
}
