/**
 * A command a node accepted, traced: its context on shardis:command (and,
 * for tools that subscribe there, on ioredis's own channels), published
 * from the caller's async context when the node accepts it, with start's
 * stores entered for it, and handed to the client's trace hook
 * (shardis/otel) unless it serves a call the hook did not take; the
 * connection keeps it up to date (written, retried, redirected, handed
 * over) through the TraceHandle it is.
 */
import { BlockCommand } from "../commands/block.js";
import { failureOf, withoutArguments, type ShardisCommand } from "../commands/command.js";
import type { TraceHandle } from "../connection/observer.js";
import type { ClientTracing } from "./clientTracing.js";
import { ioredisContext, ioredisTraced, traceOnIoredis, type IoredisContext } from "./ioredisChannels.js";
import type { Hooked, TraceHook } from "./traceHook.js";
import { commandChannel, currentCall, type CallTrace, type CommandTrace, type TraceEvent, type TraceEventName } from "./tracing.js";

const NO_EVENTS: readonly TraceEvent[] = Object.freeze([]);

class NodeCommandTrace implements CommandTrace, TraceHandle {
  batchSize = 0;
  queuedMs = 0;
  durationMs = 0;
  /** Shared and empty until something happens (most commands: nothing). */
  events: readonly TraceEvent[] = NO_EVENTS;
  readonly blockSize: number;
  readonly args?: readonly unknown[];
  error?: unknown;
  /** The same command as ioredis's channel sees it, when published there. */
  ioredis: IoredisContext | undefined = undefined;
  /** The hook to tell when it settles, and what it asked to be handed then. */
  #hook: TraceHook | undefined = undefined;
  #token: unknown = undefined;

  constructor(
    readonly client: object,
    readonly shard: string,
    public node: string,
    readonly role: "master" | "replica",
    readonly command: string,
    readonly db: number,
    cmd: ShardisCommand,
    includeArgs: boolean,
    /** performance.now() when first accepted. */
    private readonly startedAt: number,
  ) {
    this.blockSize = cmd instanceof BlockCommand ? cmd.queued.length : 0;
    if (includeArgs) this.args = [...cmd.args];
  }

  written(at: number, batchSize: number): void {
    this.batchSize = batchSize;
    // Queue time up to the first write; a retry's wait shows as its event.
    if (this.queuedMs === 0) this.queuedMs = at - this.startedAt;
  }

  note(name: TraceEventName, detail?: string): void {
    const event: TraceEvent = detail === undefined ? { name, at: performance.now() } : { name, at: performance.now(), detail };
    this.events = [...this.events, event];
  }

  movedTo(node: string): void {
    this.node = node;
    this.ioredis?.movedTo(node);
  }

  /** Tells the hook (with what it returned at start) when the command settles. */
  tell(hook: TraceHook, token: unknown): void {
    this.#hook = hook;
    this.#token = token;
  }

  get told(): boolean {
    return this.#hook !== undefined;
  }

  settled(error?: unknown): void {
    this.durationMs = performance.now() - this.startedAt;
    if (error !== undefined) {
      // A reply error carries the command's arguments (ioredis's error.command): only where includeArgs lets them in.
      this.error = this.args ? failureOf(error) : withoutArguments(failureOf(error));
      commandChannel.error.publish(this);
    }
    commandChannel.asyncStart.publish(this);
    commandChannel.asyncEnd.publish(this);
    this.#hook?.commandEnded(this, this.#token);
  }
}

/** Whether a command accepted now would be traced: someone listens on shardis:command or ioredis's channels, or the hook takes it. */
export function commandsTraced(tracing: ClientTracing): boolean {
  return (
    commandChannel.hasSubscribers ||
    (tracing.ioredisChannels && ioredisTraced()) ||
    (tracing.hook !== undefined && tracing.hookTakes(currentCall()))
  );
}

/**
 * Traces a command the node accepted (callers check commandsTraced()
 * first): hands it to the hook; publishes start with runStores and end
 * now, and error, asyncStart and asyncEnd when it settles; on ioredis's
 * channels too.
 */
export function traceCommand(
  cmd: ShardisCommand,
  where: { readonly shard: string; readonly node: string; readonly role: "master" | "replica" },
  startedAt: number,
  tracing: ClientTracing,
): TraceHandle {
  const trace = new NodeCommandTrace(tracing.client, where.shard, where.node, where.role, cmd.name, tracing.db, cmd, tracing.includeArgs, startedAt);
  const hook = tracing.hook;
  if (hook !== undefined) {
    const call: Hooked<CallTrace> | undefined = currentCall();
    if (tracing.hookTakes(call)) {
      const token = hook.commandStarted(trace, call?.client === tracing.client ? call : undefined);
      if (token !== undefined) trace.tell(hook, token);
    }
  }
  if (commandChannel.hasSubscribers) commandChannel.start.runStores(trace, watch, undefined, trace, cmd);
  else if (trace.told) settlement(trace, cmd);
  if (tracing.ioredisChannels && ioredisTraced()) {
    trace.ioredis = ioredisContext(cmd, where.node, tracing.db);
    traceOnIoredis(trace.ioredis, cmd);
  }
  return trace;
}

/** Inside the stores: the settlement handlers are registered here, so they run in them. */
function watch(trace: NodeCommandTrace, cmd: ShardisCommand): void {
  try {
    settlement(trace, cmd);
  } finally {
    commandChannel.end.publish(trace);
  }
}

function settlement(trace: NodeCommandTrace, cmd: ShardisCommand): void {
  cmd.promise.then(
    () => trace.settled(),
    (error: unknown) => trace.settled(error ?? new Error("rejected without a reason")),
  );
}
