/**
 * OpenTelemetry spans for one traced request, end to end: the request's
 * span, and under it shardis's (a cache-aside read and its loader, a split
 * MGET, a pipeline, a MULTI block), each command on the node it went to.
 * Printed as a tree from an in-memory exporter; in production the same
 * provider would export to a collector.
 *
 *   SHARDS=127.0.0.1:7000,127.0.0.1:7001 npx tsx examples/tracing.ts
 *   npx tsx examples/local.ts tracing        # starts 3 local redis-servers for it
 *
 * Needs the OpenTelemetry SDK: npm install @opentelemetry/api
 * @opentelemetry/sdk-trace-base @opentelemetry/context-async-hooks
 */
import { context, trace, SpanKind } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { ShardedClient } from "shardis";
import { instrumentShardis } from "shardis/otel";

async function main(): Promise<void> {
  const addresses = process.env.SHARDS?.split(",").filter(Boolean) ?? [];
  if (addresses.length === 0) throw new Error("set SHARDS=host:port,host:port,... (or run: npx tsx examples/local.ts tracing)");

  // The application's OpenTelemetry set-up: an AsyncLocalStorage context manager and a tracer provider.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  const tracer = trace.getTracer("example-app");

  const client = new ShardedClient({ shards: addresses.map((master, i) => ({ name: `s${i}`, master })) });
  // Without a tracerProvider it uses the global one, as OpenTelemetry instrumentations do.
  const otel = instrumentShardis(client, { includeArgs: true });
  const users = client.cache<{ name: string }>({ namespace: "users", ttlMs: 60_000 });
  try {
    await client.ready();
    await client.del("user:1", "visits:{user:1}", "last:{user:1}");
    exporter.reset();

    // One request, as an HTTP server's instrumentation would start it.
    await tracer.startActiveSpan("GET /users/1", { kind: SpanKind.SERVER }, async (request) => {
      const user = await users.getOrSet("1", () => tracer.startActiveSpan("SELECT users", (query) => (query.end(), { name: "ada" })));
      await client.mget("user:1", "user:2", "user:3");
      await client.pipeline().incr("visits:{user:1}").get("visits:{user:1}").exec();
      await client.multi().set("last:{user:1}", Date.now()).expire("last:{user:1}", 60).exec();
      request.setAttribute("user", user?.name ?? "?");
      request.end();
    });
    printTree(exporter.getFinishedSpans());
  } finally {
    otel.disable();
    await client.quit();
    await provider.shutdown();
  }
}

/** The spans as a tree: name, duration, and what says where each went. */
function printTree(spans: ReadableSpan[]): void {
  const children = new Map<string | undefined, ReadableSpan[]>();
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId;
    const key = parent && ids.has(parent) ? parent : undefined;
    children.set(key, [...(children.get(key) ?? []), span]);
  }
  const show = (span: ReadableSpan, depth: number): void => {
    const ms = span.duration[0] * 1e3 + span.duration[1] / 1e6;
    const a = span.attributes;
    const where = [
      a["shardis.shard"] && `${a["shardis.shard"]} ${a["server.address"]}:${a["server.port"]}`,
      a["shardis.shards"] && `${a["shardis.shards"]} shards`,
      a["db.operation.batch.size"] !== undefined && `batch ${a["db.operation.batch.size"]}`,
      a["shardis.cache.outcome"] && `outcome ${a["shardis.cache.outcome"]}`,
      a["db.query.text"] && `"${a["db.query.text"]}"`,
    ].filter(Boolean);
    console.log(`${"  ".repeat(depth)}${span.name} (${ms.toFixed(2)} ms)${where.length ? "  " + where.join(", ") : ""}`);
    const sorted = (children.get(span.spanContext().spanId) ?? []).sort((x, y) => x.startTime[0] - y.startTime[0] || x.startTime[1] - y.startTime[1]);
    for (const child of sorted) show(child, depth + 1);
  };
  for (const root of children.get(undefined) ?? []) show(root, 0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
