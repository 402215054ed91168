/**
 * What an instrumentation of one client (shardis/otel) plugs into it: told
 * of the client's calls and commands directly, not through the public
 * channels, so that it decides at a call's start whether it wants the call,
 * and a call it does not want (an unsampled one) costs that one question:
 * no trace is published, no command of the call is traced, no settlement
 * is watched. The channels keep their own subscribers: a call goes to both
 * when both want it. Not public API: shardis/otel reaches it through the
 * client's TRACING.
 */
import type { CallTrace, CommandTrace } from "./tracing.js";

/** Where a call's trace keeps what the hook made of it (a property: short-lived keys in a WeakMap cost the GC). */
export const HOOKED: unique symbol = Symbol("shardis.hooked");

/** What the hook keeps of a call it took. */
export interface HookedCall {
  /** Whether the call's commands go to the hook too (false: only a context kept for nested work, as an unsampled cache call's). */
  readonly commands: boolean;
}

export type Hooked<T> = T & { [HOOKED]?: HookedCall };

export interface TraceHook {
  /**
   * A call starts, synchronously in the caller's context; `outer` is the
   * call it runs inside (a pipeline's), if any. What the hook keeps of it
   * (put on the trace as HOOKED), or undefined: the call is not its.
   */
  callStarted(call: CallTrace, outer: CallTrace | undefined): HookedCall | undefined;
  /** Runs the call's synchronous part (in a context of the hook's, for calls that run the caller's code: the cache's). */
  run<T>(call: CallTrace, fn: () => Promise<T>): Promise<T>;
  /** A call it took settled (or threw): durationMs and error are set. */
  callEnded(call: CallTrace): void;
  /**
   * A node accepted a command, synchronously in its caller's context;
   * `call` is the client's call it serves (taken by the hook), undefined
   * outside any. Returns what to hand commandEnded when it settles, or
   * undefined: nothing to do then.
   */
  commandStarted(command: CommandTrace, call: Hooked<CallTrace> | undefined): unknown;
  commandEnded(command: CommandTrace, token: unknown): void;
}
