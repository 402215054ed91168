/**
 * What OpenTelemetry tracing costs, every call sampled (spans batched to an
 * exporter that drops them), in an application whose work already runs
 * inside an OpenTelemetry context (AsyncLocalStorage in use, as under any
 * HTTP instrumentation): shardis with shardis/otel against the same client
 * not instrumented, with sampling off, and against the anchor: ioredis 6
 * (auto-pipelined, one client per node) with OpenTelemetry spans made from
 * its ioredis:command channel as Sentry's integration makes them
 * (@opentelemetry/instrumentation-ioredis supports ioredis < 6 only).
 *
 * Subscriptions are process-wide: each variant subscribes before its run
 * and unsubscribes after, so the others run untraced.
 */
import diagnostics_channel from "node:diagnostics_channel";
import { context, createContextKey, SpanKind, trace, type Context, type Span, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { AlwaysOffSampler, BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Redis } from "ioredis";
import type { ShardedClient } from "shardis";
import { instrumentShardis } from "shardis/otel";
import { runWorkload, type RunResult, type Target, type WorkloadOptions } from "./workload.js";

export interface TracingBenchParts {
  readonly client: ShardedClient;
  /** ioredis clients per node, auto-pipelined, and the key router for them. */
  readonly nodes: Redis[];
  readonly nodeOf: (key: string) => number;
  readonly keys: string[];
  readonly commands: WorkloadOptions;
  readonly log: (line?: string) => void;
  readonly compare: (variants: Record<string, () => Promise<RunResult>>, ratios: Array<[string, string, string, number?]>) => Promise<unknown>;
}

/** Accepts every batch and keeps nothing: what export costs beyond the SDK is not this bench's. */
const DROP: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };

export async function tracingBench(parts: TracingBenchParts): Promise<unknown> {
  const { client, nodes, nodeOf, keys, commands, log } = parts;
  log(`\n== tracing: OpenTelemetry spans for every call (batched, dropped), in an app already inside an OpenTelemetry context; ${commands.inflight} in flight`);
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  const sampled = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(DROP, { maxQueueSize: 65_536 })] });
  const unsampled = new BasicTracerProvider({ sampler: new AlwaysOffSampler(), spanProcessors: [new BatchSpanProcessor(DROP)] });
  const app = context.active().setValue(createContextKey("request"), 1);
  /** The workload with every worker inside the application's context. */
  const inApp = (target: Target): Promise<RunResult> => context.with(app, () => runWorkload(target, keys, commands));
  const shardis: Target = { get: (k) => client.get(k), set: (k, v) => client.set(k, v) };
  const ioredis: Target = { get: (k) => nodes[nodeOf(k)]!.get(k), set: (k, v) => nodes[nodeOf(k)]!.set(k, v) };
  const instrumented = (provider: BasicTracerProvider) => async () => {
    const handle = instrumentShardis(client, { tracerProvider: provider });
    try {
      return await inApp(shardis);
    } finally {
      handle.disable();
    }
  };
  try {
    return await parts.compare(
      {
        "shardis slots (OTel context)": () => inApp(shardis),
        "shardis slots + otel": instrumented(sampled),
        "shardis slots + otel unsampled": instrumented(unsampled),
        "manual shard (OTel context)": () => inApp(ioredis),
        "manual shard + otel": async () => {
          const stop = ioredisSpans(sampled.getTracer("anchor"));
          try {
            return await inApp(ioredis);
          } finally {
            stop();
          }
        },
      },
      [
        ["shardis + otel / shardis (OTel context)", "shardis slots + otel", "shardis slots (OTel context)", 0.8],
        ["shardis + otel unsampled / shardis", "shardis slots + otel unsampled", "shardis slots (OTel context)"],
        ["shardis + otel / manual shard + otel", "shardis slots + otel", "manual shard + otel", 1],
        ["manual shard + otel / manual shard", "manual shard + otel", "manual shard (OTel context)"],
      ],
    );
  } finally {
    await Promise.all([sampled.shutdown(), unsampled.shutdown()]);
    manager.disable();
    context.disable();
  }
}

interface IoredisCommandContext {
  command: string;
  args: string[];
  serverAddress: string;
  serverPort: number;
}

/** OpenTelemetry spans from ioredis:command, made as Sentry's channel integration makes them; returns the unsubscribe. */
function ioredisSpans(tracer: Tracer): () => void {
  const channel = diagnostics_channel.tracingChannel<unknown, IoredisCommandContext>("ioredis:command");
  const spans = new WeakMap<object, Span>();
  const store = { run: <R>(ctx: Context, fn: () => R): R => context.with(ctx, fn) };
  channel.start.bindStore(store as never, (data: IoredisCommandContext) => {
    const span = tracer.startSpan(
      data.command.toUpperCase(),
      {
        kind: SpanKind.CLIENT,
        attributes: {
          "db.system.name": "redis",
          "db.query.text": `${data.command} ${data.args.join(" ")}`,
          "server.address": data.serverAddress,
          "server.port": data.serverPort,
        },
      },
      context.active(),
    );
    spans.set(data, span);
    return trace.setSpan(context.active(), span);
  });
  const end = (data: IoredisCommandContext) => spans.get(data)?.end();
  const handlers = { start: () => undefined, end: () => undefined, asyncStart: () => undefined, asyncEnd: end, error: end };
  channel.subscribe(handlers);
  return () => {
    channel.unsubscribe(handlers);
    channel.start.unbindStore(store as never);
  };
}
