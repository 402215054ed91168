/**
 * shardis's channels as OpenTelemetry spans, for one client. A call's span
 * is made when its trace starts, under the call it runs in (a pipeline's)
 * or the caller's active span. Calls that run code of their own (the
 * cache's reads and loader, the loader's queries) make their span the
 * active one meanwhile: a store bound to shardis:call's start enters it
 * with context.with(). Others need no context of their own (its cost is
 * most of an unsampled call's): their commands find them as the current
 * call. A command a node accepted either completes its call's span (a
 * command, a script, a MULTI block: one span per call, with the node it
 * went to) or is a child span (each shard's part of a split command, a
 * command of a pipeline, a NOSCRIPT's EVAL, commands sent outside any call).
 */
import {
  context,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import diagnostics_channel from "node:diagnostics_channel";
import type { ClientTracing } from "../metrics/clientTracing.js";
import { CALL_CHANNEL, COMMAND_CHANNEL, currentCall, type CallTrace, type CommandTrace } from "../metrics/tracing.js";
import { callAttributes, callEndAttributes, callSpanName, commandAttributes, errorAttributes, isOperation, nodeAttributes, type Attributes } from "./attributes.js";
import type { OperationMetrics } from "./metrics.js";

/** What the instrumentation keeps of a call while it runs. */
interface CallRecord {
  readonly span: Span;
  /** The node command that completes the call's span, once one has. */
  command: CommandTrace | undefined;
  /** The node's attributes (for the duration metric). */
  node: Attributes | undefined;
}

interface CommandRecord {
  readonly span: Span;
  /** Its own span (ended with it), or its call's. */
  readonly own: boolean;
}

/** Stands in for an AsyncLocalStorage: bindStore() enters it as it would one (runStores calls store.run). */
interface ContextStore {
  run<R>(store: Context, fn: () => R): R;
}

/** Where a context keeps what the instrumentation made of it (a property, not a WeakMap: short-lived keys in weak tables cost the GC). */
const RECORD = Symbol("shardis.otel");
type Recorded<T, R> = T & { [RECORD]?: R };

export class ShardisSpans {
  /** Node attributes by "host:port", made once per node. */
  private readonly nodes = new Map<string, Attributes>();
  private readonly store: ContextStore = { run: (ctx, fn) => context.with(ctx, fn) };
  private readonly callChannel = diagnostics_channel.tracingChannel<unknown, CallTrace>(CALL_CHANNEL);
  private readonly commandChannel = diagnostics_channel.tracingChannel<unknown, CommandTrace>(COMMAND_CHANNEL);
  private readonly callHandlers = {
    start: () => undefined,
    end: () => undefined,
    asyncStart: () => undefined,
    error: () => undefined,
    asyncEnd: (call: CallTrace) => this.callEnded(call),
  };
  private readonly commandHandlers = {
    start: (command: CommandTrace) => this.commandStarted(command),
    end: () => undefined,
    asyncStart: () => undefined,
    error: () => undefined,
    asyncEnd: (command: CommandTrace) => this.commandEnded(command),
  };

  constructor(
    private readonly tracing: ClientTracing,
    private readonly tracer: Tracer,
    private readonly includeArgs: boolean,
    private readonly metrics: OperationMetrics | undefined,
  ) {}

  enable(): void {
    this.callChannel.start.bindStore(this.store as never, (call: CallTrace) => this.callStarted(call));
    this.callChannel.subscribe(this.callHandlers);
    this.commandChannel.subscribe(this.commandHandlers);
  }

  disable(): void {
    this.callChannel.start.unbindStore(this.store as never);
    this.callChannel.unsubscribe(this.callHandlers);
    this.commandChannel.unsubscribe(this.commandHandlers);
  }

  /** bindStore's transform: the call's span, made the active span for the call. */
  private callStarted(call: CallTrace): Context {
    const active = context.active();
    if (call.client !== this.tracing.client) return active;
    // Inside another call (a pipeline's command): under that call's span.
    const outer = currentCall();
    const outerRecord = outer && (outer as Recorded<CallTrace, CallRecord>)[RECORD];
    const parent = outerRecord ? trace.setSpan(active, outerRecord.span) : active;
    const span = this.tracer.startSpan(callSpanName(call), { kind: isOperation(call) ? SpanKind.CLIENT : SpanKind.INTERNAL }, parent);
    // Attributes only for spans that are kept: an unsampled call costs little more than its trace.
    if (span.isRecording()) span.setAttributes(callAttributes(call, this.includeArgs));
    (call as Recorded<CallTrace, CallRecord>)[RECORD] = { span, command: undefined, node: undefined };
    // The same context back: the store's run() then does nothing.
    return isOperation(call) ? active : trace.setSpan(parent, span);
  }

  private callEnded(call: CallTrace): void {
    const record = (call as Recorded<CallTrace, CallRecord>)[RECORD];
    if (!record) return;
    const { span } = record;
    const failure = call.error === undefined ? undefined : errorAttributes(call.error);
    if (span.isRecording()) {
      span.setAttributes(callEndAttributes(call));
      if (failure) fail(span, call.error, failure);
      span.end();
    }
    if (this.metrics && isOperation(call)) {
      this.metrics.operation(call.durationMs / 1000, { ...callAttributes(call, false), ...record.node, ...failure });
    }
  }

  private commandStarted(command: CommandTrace): void {
    if (command.client !== this.tracing.client) return;
    // Accepted inside its call (synchronously, or where the call resumed it: tracing.ts resumeCall).
    const call = currentCall();
    const record = call && (call as Recorded<CallTrace, CallRecord>)[RECORD];
    if (call && record && record.command === undefined && completes(call)) {
      // The call's own command: its span gets the node, not a second span.
      record.command = command;
      if (record.span.isRecording() || this.metrics) {
        record.node = this.nodeAttributes(command);
        record.span.setAttributes(record.node);
      }
      (command as Recorded<CommandTrace, CommandRecord>)[RECORD] = { span: record.span, own: false };
      return;
    }
    const active = context.active();
    const span = this.tracer.startSpan(command.command.toUpperCase(), { kind: SpanKind.CLIENT }, record ? trace.setSpan(active, record.span) : active);
    if (span.isRecording()) span.setAttributes(commandAttributes(command, this.includeArgs));
    (command as Recorded<CommandTrace, CommandRecord>)[RECORD] = { span, own: true };
  }

  private nodeAttributes(command: CommandTrace): Attributes {
    const key = `${command.shard}|${command.node}`;
    let attributes = this.nodes.get(key);
    if (attributes === undefined) this.nodes.set(key, (attributes = nodeAttributes(command)));
    return attributes;
  }

  private commandEnded(command: CommandTrace): void {
    const record = (command as Recorded<CommandTrace, CommandRecord>)[RECORD];
    if (!record) return;
    const { span, own } = record;
    if (!span.isRecording()) return;
    // Queue time (acceptance to write) apart from the node's and network's; the write's batch; what happened on the way.
    if (command.batchSize > 0) span.setAttributes({ "shardis.queue_time_ms": command.queuedMs, "shardis.batch_size": command.batchSize });
    for (const event of command.events) span.addEvent(`shardis.${event.name}`, event.detail === undefined ? {} : { "shardis.detail": event.detail }, event.at);
    if (!own) {
      // A hand-over changed the node after the span was given it.
      if (command.events.length > 0) span.setAttributes(this.nodeAttributes(command));
      return;
    }
    if (command.error !== undefined) fail(span, command.error, errorAttributes(command.error));
    span.end();
  }
}

/** Calls whose span one node command completes; others (split, pipeline, cache) get a child span per command. */
function completes(call: CallTrace): boolean {
  return (call.kind === "command" || call.kind === "script" || call.kind === "multi") && call.shards === 0;
}

function fail(span: Span, error: unknown, attributes: Attributes): void {
  span.setAttributes(attributes);
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
