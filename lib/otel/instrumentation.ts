/**
 * shardis's traces as OpenTelemetry spans, for one client: the client's
 * trace hook (metrics/traceHook.ts), told of its calls and commands
 * directly. A call's span is started when the call starts, under the call
 * it runs in (a pipeline's) or the caller's active span; a call the tracer
 * does not record (unsampled, no metrics) ends there: nothing more is made
 * for it or its commands. Calls that run code of their own (the cache's
 * reads and loader, the loader's queries) make their span the active one
 * meanwhile, sampled or not (nested work then follows the decision);
 * others need no context of their own: their commands find them as the
 * current call. A command a node accepted either completes its call's span
 * (a command, a script, a MULTI block: one span per call, with the node it
 * went to, what the command learned read at the call's end) or is a child
 * span (each shard's part of a split command, a command of a pipeline, a
 * NOSCRIPT's EVAL, commands sent outside any call).
 */
import { context, SpanKind, SpanStatusCode, trace, type Context, type Span, type SpanOptions, type Tracer } from "@opentelemetry/api";
import type { ClientTracing } from "../metrics/clientTracing.js";
import { HOOKED, type Hooked, type HookedCall, type TraceHook } from "../metrics/traceHook.js";
import type { CallTrace, CommandTrace } from "../metrics/tracing.js";
import {
  callAttributes,
  callEndAttributes,
  callSpanName,
  callStartExtras,
  commandExtras,
  errorAttributes,
  isOperation,
  nodeAttributes,
  operationAttributes,
  type Attributes,
} from "./attributes.js";
import type { OperationMetrics } from "./metrics.js";

/** What the instrumentation keeps of a call it took. */
class CallRecord implements HookedCall {
  /** The node command that completes the call's span, once one has. */
  command: CommandTrace | undefined = undefined;
  /** The node's attributes (for the duration metric). */
  node: Attributes | undefined = undefined;
  /** The caller's context with the call's span in it, for its child spans: made once per call, not per command. */
  #inside: Context | undefined = undefined;
  #outside: Context | undefined = undefined;

  constructor(
    readonly span: Span,
    /** Recorded, or measured: its commands are told too. */
    readonly commands: boolean,
    /** The context its own code runs in (its span active), for calls that run the caller's code. */
    readonly context: Context | undefined,
  ) {}

  /** `active` (the context a child starts in) with the call's span in it. */
  inside(active: Context): Context {
    if (active !== this.#outside || this.#inside === undefined) {
      this.#outside = active;
      this.#inside = trace.setSpan(active, this.span);
    }
    return this.#inside;
  }
}

/** A command name, upper case, and the attributes every span of it carries. */
interface Operation {
  readonly name: string;
  readonly attributes: Attributes;
}

/** Operation names remembered (command names; more distinct ones, as odd casing would make, are built each time). */
const OPERATION_CACHE_LIMIT = 1024;
const CLIENT: SpanOptions = Object.freeze({ kind: SpanKind.CLIENT });
const INTERNAL: SpanOptions = Object.freeze({ kind: SpanKind.INTERNAL });

export class ShardisSpans implements TraceHook {
  /** Node attributes by shard, then "host:port", made once per node. */
  private readonly nodes = new Map<string, Map<string, Attributes>>();
  private readonly operations = new Map<string, Operation>();

  constructor(
    private readonly tracing: ClientTracing,
    private readonly tracer: Tracer,
    private readonly includeArgs: boolean,
    private readonly metrics: OperationMetrics | undefined,
  ) {}

  enable(): void {
    this.tracing.setHook(this);
  }

  disable(): void {
    if (this.tracing.hook === this) this.tracing.setHook(undefined);
  }

  callStarted(call: CallTrace, outer: Hooked<CallTrace> | undefined): CallRecord | undefined {
    let parent = context.active();
    if (outer !== undefined && outer.client === call.client) {
      // Inside a call of the client's that is not recorded (unsampled): nothing of its own either.
      const record = outer[HOOKED] as CallRecord | undefined;
      if (record === undefined || !record.commands) return undefined;
      parent = record.inside(parent);
    }
    const operation = isOperation(call);
    const known = operation ? this.operation(call.operation) : undefined;
    const span = this.tracer.startSpan(known !== undefined && call.kind === "command" ? known.name : callSpanName(call), operation ? CLIENT : INTERNAL, parent);
    const recording = span.isRecording();
    // Unsampled and unmeasured: one question to the sampler, and that is all (a cache's call keeps its context, below).
    if (!recording && this.metrics === undefined && operation) return undefined;
    if (recording) {
      if (known !== undefined) span.setAttributes(known.attributes);
      span.setAttributes(callStartExtras(call, this.includeArgs));
    }
    return new CallRecord(span, recording || this.metrics !== undefined, operation ? undefined : trace.setSpan(parent, span));
  }

  run<T>(call: CallTrace, fn: () => Promise<T>): Promise<T> {
    const own = ((call as Hooked<CallTrace>)[HOOKED] as CallRecord).context;
    return own === undefined ? fn() : context.with(own, fn);
  }

  callEnded(call: CallTrace): void {
    const record = (call as Hooked<CallTrace>)[HOOKED] as CallRecord;
    const { span, command } = record;
    // A hand-over or a redirect changed the node after the span was given it.
    if (command !== undefined && command.events.length > 0 && record.node !== undefined) {
      record.node = this.nodeAttributes(command);
      span.setAttributes(record.node);
    }
    const failure = call.error === undefined ? undefined : errorAttributes(call.error);
    if (span.isRecording()) {
      if (command !== undefined) learned(span, command);
      span.setAttributes(callEndAttributes(call));
      if (failure) fail(span, call.error, failure);
      span.end();
    }
    if (this.metrics && isOperation(call)) {
      this.metrics.operation(call.durationMs / 1000, { ...callAttributes(call, false), ...record.node, ...failure });
    }
  }

  commandStarted(command: CommandTrace, call: Hooked<CallTrace> | undefined): Span | undefined {
    const record = call?.[HOOKED] as CallRecord | undefined;
    if (call !== undefined && record !== undefined && record.command === undefined && completes(call)) {
      // The call's own command: its span gets the node, not a second span; the call's end reads the rest.
      record.command = command;
      if (record.span.isRecording() || this.metrics) {
        record.node = this.nodeAttributes(command);
        record.span.setAttributes(record.node);
      }
      return undefined;
    }
    const known = this.operation(command.command);
    const span = this.tracer.startSpan(known.name, CLIENT, record !== undefined ? record.inside(context.active()) : context.active());
    if (!span.isRecording()) return undefined;
    span.setAttributes(known.attributes);
    span.setAttributes(this.nodeAttributes(command));
    span.setAttributes(commandExtras(command, this.includeArgs));
    return span;
  }

  commandEnded(command: CommandTrace, token: unknown): void {
    const span = token as Span;
    learned(span, command);
    if (command.events.length > 0) span.setAttributes(this.nodeAttributes(command));
    if (command.error !== undefined) fail(span, command.error, errorAttributes(command.error));
    span.end();
  }

  /** The span name and base attributes of a command or call named `name` ("get"), made once per name. */
  private operation(name: string): Operation {
    let found = this.operations.get(name);
    if (found === undefined) {
      found = { name: name.toUpperCase(), attributes: operationAttributes(name, this.tracing.db) };
      if (this.operations.size < OPERATION_CACHE_LIMIT) this.operations.set(name, found);
    }
    return found;
  }

  private nodeAttributes(command: CommandTrace): Attributes {
    let byNode = this.nodes.get(command.shard);
    if (byNode === undefined) this.nodes.set(command.shard, (byNode = new Map()));
    let attributes = byNode.get(command.node);
    if (attributes === undefined) byNode.set(command.node, (attributes = nodeAttributes(command)));
    return attributes;
  }
}

/** Calls whose span one node command completes; others (split, pipeline, cache) get a child span per command. */
function completes(call: CallTrace): boolean {
  return (call.kind === "command" || call.kind === "script" || call.kind === "multi") && call.shards === 0;
}

/** What a command learned on its way: queue time (acceptance to write) apart from the node's and network's, its write's batch, its events. */
function learned(span: Span, command: CommandTrace): void {
  if (command.batchSize > 0) {
    span.setAttribute("shardis.queue_time_ms", command.queuedMs);
    span.setAttribute("shardis.batch_size", command.batchSize);
  }
  for (const event of command.events) span.addEvent(`shardis.${event.name}`, event.detail === undefined ? {} : { "shardis.detail": event.detail }, event.at);
}

function fail(span: Span, error: unknown, attributes: Attributes): void {
  span.setAttributes(attributes);
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
