/**
 * shardis's tracing channels (node:diagnostics_channel), for OpenTelemetry
 * (shardis/otel), APM tools and anything else:
 *
 *   shardis:call     one trace per public call: a command (split across
 *                    shards or not), a script, pipeline().exec(),
 *                    multi().exec(), cache.getOrSet() and its loader.
 *   shardis:command  one trace per command a node accepted for a caller:
 *                    each shard's part of a split command, each command of
 *                    a pipeline, a MULTI block, a script's EVALSHA.
 *
 * Both follow tracingChannel's semantics: start is published with
 * start.runStores() in the caller's async context (stores bound with
 * bindStore are entered for the call, and stay entered for what it awaits),
 * then end; error, asyncStart and asyncEnd when it settles, in the stores.
 * Nothing is built while no one subscribes. shardis/otel does not subscribe:
 * it is told directly (traceHook.ts), so the calls it does not sample cost
 * it one question. Keys, values and replies appear
 * only with `tracing.includeArgs` (arguments), never replies.
 */
import diagnostics_channel from "node:diagnostics_channel";
import type { TraceEventName } from "../connection/observer.js";
import { withoutArguments } from "../commands/command.js";
import type { TraceHook } from "./traceHook.js";

export type { TraceEventName };

export const CALL_CHANNEL = "shardis:call";
export const COMMAND_CHANNEL = "shardis:command";

/** Something that happened to a command on its way: a retry, a redirect, a hand-over. */
export interface TraceEvent {
  readonly name: TraceEventName;
  /** performance.now() when it happened. */
  readonly at: number;
  /** Where to (an address) or why (an error class or a reply's prefix). */
  readonly detail?: string;
}

/** The context of one public call, on shardis:call. */
export interface CallTrace {
  /** The ShardedClient that made it. */
  readonly client: object;
  readonly kind: "command" | "script" | "pipeline" | "multi" | "cache" | "load";
  /** Lower-case command name ("get", "mget", "evalsha"), "pipeline", "multi", "getOrSet" or "load". */
  readonly operation: string;
  /** The database index (redis.db). */
  readonly db: number;
  /** A script's name (defineCommand). */
  readonly script?: string;
  /** A cache's namespace (kinds cache and load). */
  readonly namespace?: string;
  /** Arguments, keys and values included: only with `tracing: { includeArgs: true }`. */
  readonly args?: readonly unknown[];
  /** Shards a split or broadcast command went to (set when it fans out; 0 otherwise). */
  shards: number;
  /** Commands in a pipeline or MULTI block. */
  batchSize: number;
  /** Answered from the near cache, without a command sent. */
  nearCache: boolean;
  /**
   * What cache.getOrSet did: hit, stale (served, refreshed in the background), negative (a cached "not found"),
   * joined (this process's load of the key), loaded (took the lock and loaded), waited (for another caller's load),
   * took_over (waited, then took the lock its holder gave up), direct (the key's node down: the loader called directly).
   */
  outcome?: CacheOutcome;
  /** Milliseconds from the call to its settlement (set before asyncStart). */
  durationMs: number;
  /** Set on the error event. */
  error?: unknown;
}

export type CacheOutcome = "hit" | "stale" | "negative" | "joined" | "loaded" | "waited" | "took_over" | "direct";

/** The context of one command a node accepted, on shardis:command. */
export interface CommandTrace {
  readonly client: object;
  readonly shard: string;
  /** "host:port" of the node carrying it (updated when a failover or a redirect hands it over). */
  readonly node: string;
  readonly role: "master" | "replica";
  /** Lower-case command name ("get", "hset", ...; "exec" for a MULTI block); any command, not only known ones. */
  readonly command: string;
  readonly db: number;
  /** Commands in a MULTI block (0 for a single command). */
  readonly blockSize: number;
  /** Commands written together with this one (set once written; 0 if it never was). */
  readonly batchSize: number;
  /** Milliseconds from acceptance to the write (queue time); 0 if never written. */
  readonly queuedMs: number;
  /** Milliseconds from acceptance to settlement (set before asyncStart); minus queuedMs, the node's and network's time. */
  readonly durationMs: number;
  /** Retries, redirects and hand-overs on the way. */
  readonly events: readonly TraceEvent[];
  /** Arguments, keys and values included: only with `tracing: { includeArgs: true }`. */
  readonly args?: readonly unknown[];
  /** Set on the error event. */
  readonly error?: unknown;
}

export const callChannel = diagnostics_channel.tracingChannel<unknown, CallTrace>(CALL_CHANNEL);
export const commandChannel = diagnostics_channel.tracingChannel<unknown, CommandTrace>(COMMAND_CHANNEL);

/** Clients with a trace hook (shardis/otel): their calls are traced with nobody subscribed to the channels, too. */
let hooks = 0;

/** A client's hook was set (+1) or cleared (-1). */
export function countHook(change: 1 | -1): void {
  hooks += change;
}

/** Whether anyone listens for calls (checked once per call; a few property reads). */
export function callsTraced(): boolean {
  return hooks > 0 || callChannel.hasSubscribers;
}

/** The call whose synchronous part runs now, for code inside it to add what it learns (shards, near-cache hits). */
let current: CallTrace | undefined;

export function currentCall(): CallTrace | undefined {
  return current;
}

/** Runs fn as part of `call` again: where a call goes on after an await (a master named, a block's node found). */
export function resumeCall<T>(call: CallTrace | undefined, fn: () => T): T {
  if (call === undefined) return fn();
  const outer = current;
  current = call;
  try {
    return fn();
  } finally {
    current = outer;
  }
}

/**
 * Runs fn as the call `trace` describes: start with runStores, end, then
 * error, asyncStart and asyncEnd when its promise settles, inside the
 * stores; `hook` (a client's instrumentation that took the call) is told
 * too, and runs fn. Without subscribers on shardis:call, only the hook is.
 * Returns fn's own promise (tracePromise would hand the caller a second
 * one, and put the reply on the context).
 */
export function traceCall<T>(trace: CallTrace, fn: () => Promise<T>, hook?: TraceHook): Promise<T> {
  if (hook !== undefined && !callChannel.hasSubscribers) return runCall(trace, fn, hook, false);
  return callChannel.start.runStores(trace, runCall<T>, undefined, trace, fn, hook, true);
}

function runCall<T>(trace: CallTrace, fn: () => Promise<T>, hook: TraceHook | undefined, published: boolean): Promise<T> {
  const startedAt = performance.now();
  const outer = current;
  current = trace;
  let promise: Promise<T>;
  try {
    promise = hook === undefined ? fn() : hook.run(trace, fn);
  } catch (error) {
    trace.durationMs = performance.now() - startedAt;
    trace.error = error;
    if (published) callChannel.error.publish(trace);
    hook?.callEnded(trace);
    throw error;
  } finally {
    current = outer;
    if (published) callChannel.end.publish(trace);
  }
  // Registered inside the stores, so the settlement events see them; never rejects (the caller has `promise`).
  promise.then(
    () => settled(trace, startedAt, hook, published, undefined),
    (error: unknown) => settled(trace, startedAt, hook, published, error ?? new Error("rejected without a reason")),
  );
  return promise;
}

function settled(trace: CallTrace, startedAt: number, hook: TraceHook | undefined, published: boolean, error: unknown): void {
  trace.durationMs = performance.now() - startedAt;
  if (error !== undefined) {
    // A reply error carries the command's arguments (ioredis's error.command): only where includeArgs lets them in.
    trace.error = trace.args ? error : withoutArguments(error);
    if (published) callChannel.error.publish(trace);
  }
  if (published) {
    callChannel.asyncStart.publish(trace);
    callChannel.asyncEnd.publish(trace);
  }
  hook?.callEnded(trace);
}
