/**
 * The OpenTelemetry SDK's own floor: what one span costs in the SDK alone,
 * with no client around it. A span as shardis/otel makes one for a GET
 * (startSpan under the application's context, the same 8 attributes set,
 * end) through a BatchSpanProcessor to an exporter that drops the batches;
 * in chunks, yielding between them so the processor exports as it does in a
 * live process. CPU microseconds per span (process.cpuUsage), returned as a
 * RunResult so that compare() runs it among the variants, in the same
 * rounds. With sampling off, the floor is startSpan() alone (the API makes a
 * non-recording span and its ids whatever the sampler says).
 */
import { SpanKind, type Attributes, type Context, type Tracer } from "@opentelemetry/api";
import type { RunResult } from "./workload.js";

/** A GET's span attributes as shardis/otel sets them (operation, database, node). */
const ATTRIBUTES = Object.freeze({
  "db.system.name": "redis",
  "db.operation.name": "GET",
  "db.namespace": "0",
  "shardis.shard": "s0",
  "server.address": "127.0.0.1",
  "server.port": 6379,
  "network.peer.address": "127.0.0.1",
  "network.peer.port": 6379,
});
const CLIENT = Object.freeze({ kind: SpanKind.CLIENT });
/** Spans between yields: about what one event-loop turn of the bench's closed loop makes. */
const CHUNK = 256;

export async function otelFloor(tracer: Tracer, parent: Context, spans: number, attributes: Attributes = ATTRIBUTES): Promise<RunResult> {
  const cpu = process.cpuUsage();
  const startedAt = performance.now();
  for (let made = 0; made < spans; made += CHUNK) {
    for (let i = 0; i < CHUNK; i++) {
      const span = tracer.startSpan("GET", CLIENT, parent);
      if (span.isRecording()) span.setAttributes(attributes);
      span.end();
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - startedAt) / 1000;
  return { ops: spans, errors: 0, opsPerSec: spans / seconds, p50Ms: 0, p99Ms: 0, cpuMicrosPerOp: (used.user + used.system) / spans };
}
