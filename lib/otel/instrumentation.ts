/**
 * shardis's channels as OpenTelemetry spans, for one client. A call's span
 * is made when its trace starts, in the caller's active context, and is
 * the active span for the call (a store bound to shardis:call's start
 * enters it with context.with()), so what the call awaits carries it too.
 * A command a node accepted either completes its call's span (a command,
 * a script, a MULTI block: one span per call, with the node it went to) or
 * is a child span (each shard's part of a split command, a command of a
 * pipeline, a NOSCRIPT's EVAL, commands sent outside any call).
 */
import {
  context,
  createContextKey,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import diagnostics_channel from "node:diagnostics_channel";
import type { ClientTracing } from "../metrics/clientTracing.js";
import { CALL_CHANNEL, COMMAND_CHANNEL, type CallTrace, type CommandTrace } from "../metrics/tracing.js";
import { callAttributes, callEndAttributes, callSpanName, commandAttributes, errorAttributes, isOperation, nodeAttributes, type Attributes } from "./attributes.js";
import type { OperationMetrics } from "./metrics.js";

/** The call a context's active span stands for (set with the span). */
const CALL = createContextKey("shardis call");

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
  /** performance.now() at acceptance: writes and events are placed from it. */
  readonly acceptedAt: number;
}

/** Stands in for an AsyncLocalStorage: bindStore() enters it as it would one (runStores calls store.run). */
interface ContextStore {
  run<R>(store: Context, fn: () => R): R;
}

export class ShardisSpans {
  private readonly calls = new WeakMap<CallTrace, CallRecord>();
  private readonly commands = new WeakMap<CommandTrace, CommandRecord>();
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
    const operation = isOperation(call);
    const span = this.tracer.startSpan(
      callSpanName(call),
      { kind: operation ? SpanKind.CLIENT : SpanKind.INTERNAL, attributes: callAttributes(call, this.includeArgs) },
      active,
    );
    this.calls.set(call, { span, command: undefined, node: undefined });
    return trace.setSpan(active, span).setValue(CALL, call);
  }

  private callEnded(call: CallTrace): void {
    const record = this.calls.get(call);
    if (!record) return;
    this.calls.delete(call);
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
    const active = context.active();
    const acceptedAt = performance.now();
    const call = active.getValue(CALL) as CallTrace | undefined;
    const record = call && this.calls.get(call);
    if (call && record && record.command === undefined && completes(call)) {
      // The call's own command: its span gets the node, not a second span.
      record.command = command;
      record.node = nodeAttributes(command);
      if (record.span.isRecording()) record.span.setAttributes(record.node);
      this.commands.set(command, { span: record.span, own: false, acceptedAt });
      return;
    }
    const span = this.tracer.startSpan(command.command.toUpperCase(), { kind: SpanKind.CLIENT, attributes: commandAttributes(command, this.includeArgs) }, active);
    this.commands.set(command, { span, own: true, acceptedAt });
  }

  private commandEnded(command: CommandTrace): void {
    const record = this.commands.get(command);
    if (!record) return;
    this.commands.delete(command);
    const { span, own, acceptedAt } = record;
    if (!span.isRecording()) return;
    // Queue time and server time told apart: the write as an event, then what happened on the way.
    if (command.batchSize > 0) span.addEvent("shardis.written", { "shardis.batch_size": command.batchSize }, acceptedAt + command.queuedMs);
    for (const event of command.events) span.addEvent(`shardis.${event.name}`, event.detail === undefined ? {} : { "shardis.detail": event.detail }, event.at);
    if (!own) {
      // A hand-over changed the node after the span was given it.
      span.setAttributes(nodeAttributes(command));
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
