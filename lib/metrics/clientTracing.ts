/**
 * What one client's traces carry besides the call itself (the client, its
 * database, whether arguments go in) and whether it publishes on ioredis's
 * channels; its instrumentation's hook, if any; and the way its facades
 * start a call's trace.
 */
import { HOOKED, type Hooked, type TraceHook } from "./traceHook.js";
import { callChannel, countHook, currentCall, resumeCall, traceCall, type CallTrace } from "./tracing.js";

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
  /** The client's instrumentation (shardis/otel), told of its calls and commands directly. */
  private current: TraceHook | undefined = undefined;

  constructor(
    /** The ShardedClient, on every context (subscribers tell clients apart by it). */
    readonly client: object,
    readonly db: number,
    /** Put command arguments (keys, values) in contexts (shardis/otel turns it on for db.query.text when asked). */
    public includeArgs: boolean,
  ) {}

  get hook(): TraceHook | undefined {
    return this.current;
  }

  /** Sets the client's one hook, or clears it (undefined); a second hook while one is set is refused. */
  setHook(hook: TraceHook | undefined): void {
    if (hook !== undefined && this.current !== undefined) throw new TypeError("the client is instrumented already: disable() that instrumentation first");
    if (hook === this.current) return;
    countHook(hook === undefined ? -1 : 1);
    this.current = hook;
  }

  /** Runs fn traced as a call on shardis:call and for the hook (callers check callsTraced() first). */
  call<T>(kind: CallTrace["kind"], operation: string, args: readonly unknown[] | undefined, fn: () => Promise<T>, fields?: CallFields): Promise<T> {
    const hook = this.current;
    // Another client's hook made callsTraced() true.
    if (hook === undefined && !callChannel.hasSubscribers) return fn();
    const trace: Hooked<CallTrace> = { client: this.client, kind, operation, db: this.db, shards: 0, batchSize: 0, nearCache: false, durationMs: 0 };
    if (fields !== undefined) Object.assign(trace, fields);
    // The hook reads them at the start only; a copy is made for the channel's subscribers, who may read them at the end.
    if (this.includeArgs && args !== undefined) (trace as { args?: readonly unknown[] }).args = args;
    if (hook !== undefined) {
      const hooked = hook.callStarted(trace, currentCall());
      if (hooked !== undefined) {
        trace[HOOKED] = hooked;
        return traceCall(published(trace), fn, hook);
      }
    }
    if (callChannel.hasSubscribers) return traceCall(published(trace), fn);
    // Nobody wants it (an unsampled call): it still runs as the current call, so its commands and nested calls know they are not traced.
    return resumeCall(trace, fn);
  }

  /** Whether the hook is told of a command accepted now: outside any call of the client's, or in one it took with its commands. */
  hookTakes(call: Hooked<CallTrace> | undefined): boolean {
    return call === undefined || call.client !== this.client || call[HOOKED]?.commands === true;
  }
}

/** The trace as shardis:call's subscribers get it: its arguments copied, if it carries them (the caller's array may change after the call). */
function published<T extends CallTrace>(trace: T): T {
  if (trace.args !== undefined && callChannel.hasSubscribers) (trace as { args?: readonly unknown[] }).args = [...trace.args];
  return trace;
}
