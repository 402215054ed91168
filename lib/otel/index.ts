/**
 * shardis/otel: OpenTelemetry spans and metrics for a ShardedClient, told
 * of its calls and commands by the client's trace hook (the same traces its
 * channels carry, without the channels: a call the tracer does not sample
 * costs one startSpan). One instrumentation per client. Nothing here loads
 * unless imported, and @opentelemetry/api (an optional peer dependency)
 * only then.
 *
 *   import { instrumentShardis } from "shardis/otel";
 *   const otel = instrumentShardis(client);           // the global tracer provider, as instrumentations do
 *   ...
 *   otel.disable();
 */
import { trace, type MeterProvider, type TracerProvider } from "@opentelemetry/api";
import { TRACING, type ClientTracing } from "../metrics/clientTracing.js";
import type { ShardisStats } from "../metrics/stats.js";
import { ShardisSpans } from "./instrumentation.js";
import { OperationMetrics } from "./metrics.js";

export interface ShardisInstrumentationOptions {
  /** Where spans go. @default trace.getTracerProvider() (the global one) */
  tracerProvider?: TracerProvider;
  /**
   * Where metrics go (db.client.operation.duration, db.client.connection.count,
   * db.client.connection.pending_requests). Without one, no metrics are recorded.
   */
  meterProvider?: MeterProvider;
  /** Put db.query.text on spans: the command and its arguments, sanitized (a write's values are "?"). @default false */
  includeArgs?: boolean;
}

export interface ShardisInstrumentation {
  /** Stops making spans and metrics for the client (and gives ioredis's channels back their copy of its commands). */
  disable(): void;
}

/** What instrumentShardis needs of a client (a ShardedClient). */
interface Instrumentable {
  readonly [TRACING]: ClientTracing;
  stats(): ShardisStats;
}

const NAME = "shardis";

export function instrumentShardis(client: object, options: ShardisInstrumentationOptions = {}): ShardisInstrumentation {
  const tracing = (client as Partial<Instrumentable>)[TRACING];
  if (!tracing) throw new TypeError("instrumentShardis(client) needs a ShardedClient");
  // Two would make every span twice.
  if (tracing.hook !== undefined) throw new TypeError("instrumentShardis(client): the client is instrumented already (disable() that first)");
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(NAME);
  const includeArgs = options.includeArgs === true;
  const meterProvider = options.meterProvider;
  const operations = meterProvider && new OperationMetrics(meterProvider.getMeter(NAME), () => (client as Instrumentable).stats());
  const spans = new ShardisSpans(tracing, tracer, includeArgs, operations);
  // One span per command: the client stops publishing its commands on ioredis's channels, which other tools turn into spans.
  const before = { ioredisChannels: tracing.ioredisChannels, includeArgs: tracing.includeArgs };
  tracing.ioredisChannels = false;
  if (includeArgs) tracing.includeArgs = true;
  spans.enable();
  let enabled = true;
  return {
    disable() {
      if (!enabled) return;
      enabled = false;
      spans.disable();
      operations?.stop();
      tracing.ioredisChannels = before.ioredisChannels;
      tracing.includeArgs = before.includeArgs;
    },
  };
}
