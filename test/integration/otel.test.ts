/**
 * shardis/otel against real servers, with OpenTelemetry's SDK (in-memory
 * exporter, AsyncLocalStorage context manager): spans nest under the
 * caller's active span, carry the database conventions' attributes for
 * Redis, record errors; split commands, pipelines, MULTI, the cache and the
 * near cache have their shapes; sampling off makes no spans; metrics by
 * the conventions.
 */
import { context, SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { AlwaysOffSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { InMemoryMetricExporter, AggregationTemporality, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ShardedClient } from "../../lib/index.js";
import { instrumentShardis, type ShardisInstrumentation } from "../../lib/otel/index.js";
import { startFleet, type Fleet, watchUnhandled } from "../support/fleet.js";
import { keyOn } from "../support/keys.js";
import { watchChannel } from "../support/traceWatch.js";

const contextManager = new AsyncLocalStorageContextManager();

describe("shardis/otel", () => {
  let fleet: Fleet;
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const app: Tracer = provider.getTracer("app");
  const handles: ShardisInstrumentation[] = [];
  const unhandled = watchUnhandled();

  const instrument = (client: ShardedClient, options: Parameters<typeof instrumentShardis>[1] = {}) => {
    const handle = instrumentShardis(client, { tracerProvider: provider, ...options });
    handles.push(handle);
    return handle;
  };
  /** Runs fn inside an application span "request"; returns that span's id. */
  const inRequest = async (fn: () => Promise<unknown>): Promise<string> => {
    return app.startActiveSpan("request", async (span) => {
      try {
        await fn();
      } finally {
        span.end();
      }
      return span.spanContext().spanId;
    });
  };
  const spans = () => exporter.getFinishedSpans();
  const named = (name: string) => spans().filter((s) => s.name === name);
  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
  const childrenOf = (span: ReadableSpan) => spans().filter((s) => parentOf(s) === span.spanContext().spanId);

  beforeAll(async () => {
    context.setGlobalContextManager(contextManager.enable());
    fleet = await startFleet(2);
  });
  afterEach(() => {
    for (const handle of handles.splice(0)) handle.disable();
    exporter.reset();
  });
  afterAll(async () => {
    await fleet?.stop();
    context.disable();
    unhandled.stop();
    expect(unhandled.errors).toEqual([]);
  });

  it("makes one CLIENT span per command, under the caller's active span, with the conventions' attributes for the node used", async () => {
    const c = fleet.client();
    instrument(c);
    const key = keyOn(c, "s1", "otel-get");
    const request = await inRequest(async () => {
      await c.set(key, "v");
      await c.get(key);
    });
    const [set, get] = [named("SET")[0]!, named("GET")[0]!];
    expect(spans().map((s) => s.name).sort()).toEqual(["GET", "SET", "request"]);
    for (const span of [set, get]) {
      expect(parentOf(span)).toBe(request);
      expect(span.kind).toBe(SpanKind.CLIENT);
    }
    const [host, port] = fleet.shards[1]!.master.split(":");
    expect(get.attributes).toMatchObject({
      "db.system.name": "redis",
      "db.operation.name": "GET",
      "db.namespace": "0",
      "server.address": host,
      "server.port": Number(port),
      "network.peer.address": host,
      "network.peer.port": Number(port),
      "shardis.shard": "s1",
    });
    expect(get.attributes["db.query.text"]).toBeUndefined();
    // Queue time apart from the node's and network's, and the write it went in.
    expect(get.attributes["shardis.queue_time_ms"]).toBeGreaterThanOrEqual(0);
    expect(get.attributes["shardis.batch_size"]).toBeGreaterThanOrEqual(1);
  });

  it("nests concurrent requests' commands under their own request spans, whatever write they shared", async () => {
    const c = fleet.client();
    instrument(c);
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => inRequest(() => c.get(`otel-many-${i}`))));
    const gets = named("GET");
    expect(gets).toHaveLength(20);
    expect(new Set(gets.map(parentOf))).toEqual(new Set(ids));
  });

  it("makes a split command a parent span with one child per shard, and a pipeline a PIPELINE span with its commands inside", async () => {
    const c = fleet.client();
    instrument(c);
    const [a, b] = [keyOn(c, "s0", "otel-split"), keyOn(c, "s1", "otel-split")];
    await inRequest(() => c.mget(a, b));
    expect(named("MGET")).toHaveLength(3);
    const mget = named("MGET").find((s) => childrenOf(s).length > 0)!;
    expect(mget.attributes["shardis.shards"]).toBe(2);
    expect(mget.attributes["server.address"]).toBeUndefined();
    expect(childrenOf(mget).map((s) => s.attributes["shardis.shard"]).sort()).toEqual(["s0", "s1"]);

    exporter.reset();
    await inRequest(() => c.pipeline().set(a, "1").get(a).get(b).exec());
    const pipeline = named("PIPELINE")[0]!;
    expect(pipeline.attributes).toMatchObject({ "db.operation.name": "PIPELINE", "db.operation.batch.size": 3, "db.system.name": "redis" });
    expect(childrenOf(pipeline).map((s) => s.name).sort()).toEqual(["GET", "GET", "SET"]);
  });

  it("makes a MULTI block one MULTI span with its batch size and node; records errors with error.type and the reply's prefix", async () => {
    const c = fleet.client();
    instrument(c);
    const key = keyOn(c, "s0", "otel-multi");
    await inRequest(() => c.multi().set(key, "1").incr(key).exec());
    const multi = named("MULTI")[0]!;
    expect(multi.attributes).toMatchObject({ "db.operation.name": "MULTI", "db.operation.batch.size": 2, "shardis.shard": "s0" });
    expect(childrenOf(multi)).toEqual([]);

    exporter.reset();
    await expect(inRequest(() => c.lpush(key, "x"))).rejects.toThrow(/WRONGTYPE/);
    const lpush = named("LPUSH")[0]!;
    expect(lpush.status.code).toBe(SpanStatusCode.ERROR);
    expect(lpush.attributes).toMatchObject({ "error.type": "WRONGTYPE", "db.response.status_code": "WRONGTYPE" });
    expect(lpush.events.map((e) => e.name)).toContain("exception");

    exporter.reset();
    // The node holds every client's commands for 300 ms: the read's 50 ms deadline passes first.
    await fleet.raw(0).call("CLIENT", "PAUSE", "300", "ALL");
    await expect(c.with({ timeoutMs: 50 }).get(keyOn(c, "s0", "otel-timeout"))).rejects.toThrow(/no reply within 50 ms/);
    expect(named("GET")[0]!.attributes["error.type"]).toBe("timeout");
  });

  it("puts sanitized arguments in db.query.text only when asked", async () => {
    const c = fleet.client();
    instrument(c, { includeArgs: true });
    await c.set("otel-args", "secret-value");
    await c.get("otel-args");
    expect(named("SET")[0]!.attributes["db.query.text"]).toBe("SET otel-args ?");
    expect(named("GET")[0]!.attributes["db.query.text"]).toBe("GET otel-args");
    expect(JSON.stringify(spans().map((s) => s.attributes))).not.toContain("secret-value");
  });

  it("makes cache.getOrSet an INTERNAL span with its outcome, the loader a child span, and marks near-cache hits", async () => {
    const c = fleet.client({ nearCache: { maxEntries: 100 } });
    instrument(c);
    const cache = c.cache<string>({ namespace: "otel", ttlMs: 60_000 });
    const load = () => app.startActiveSpan("db query", (span) => (span.end(), "value"));
    await inRequest(() => cache.getOrSet("k1", load));
    const miss = named("cache.getOrSet otel")[0]!;
    expect(miss.kind).toBe(SpanKind.INTERNAL);
    expect(miss.attributes["shardis.cache.outcome"]).toBe("loaded");
    const loader = childrenOf(miss).find((s) => s.name === "cache.load otel")!;
    expect(loader).toBeDefined();
    // The loader's own work nests under the loader span.
    expect(childrenOf(loader).map((s) => s.name)).toEqual(["db query"]);
    // The cache's commands (its read, its lock scripts) are spans inside the call.
    expect(childrenOf(miss).some((s) => s.name === "GET")).toBe(true);

    exporter.reset();
    await inRequest(() => cache.getOrSet("k1", load));
    expect(named("cache.getOrSet otel")[0]!.attributes["shardis.cache.outcome"]).toBe("hit");

    exporter.reset();
    const key = keyOn(c, "s0", "otel-near");
    await c.set(key, "v");
    await c.get(key);
    await c.get(key); // kept by the near cache since the read before
    const near = named("GET").filter((s) => s.attributes["shardis.near_cache.hit"] === true);
    expect(near).toHaveLength(1);
    expect(near[0]!.attributes["server.address"]).toBeUndefined();
  });

  it("makes no spans with sampling off, and none after disable(); the client's commands go back to ioredis's channel", async () => {
    const c = fleet.client();
    const unsampled = new InMemorySpanExporter();
    const off = new BasicTracerProvider({ sampler: new AlwaysOffSampler(), spanProcessors: [new SimpleSpanProcessor(unsampled)] });
    const handle = instrumentShardis(c, { tracerProvider: off });
    await c.get("otel-off");
    await c.pipeline().get("otel-off").exec();
    expect(unsampled.getFinishedSpans()).toEqual([]);

    const ioredis = watchChannel<{ command: string }>("ioredis:command");
    try {
      await c.get("otel-muted");
      // Instrumented: its commands are spans of shardis's, not a second copy from ioredis's channel.
      expect(ioredis.seen).toEqual([]);
      handle.disable();
      instrument(c).disable();
      await c.get("otel-after");
      expect(spans()).toEqual([]);
      expect(ioredis.seen.map((s) => s.ctx.command)).toEqual(["get"]);
    } finally {
      ioredis.stop();
    }
  });

  it("records db.client.operation.duration and the connection counts through a meter provider", async () => {
    const c = fleet.client();
    const metrics = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 60_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    instrument(c, { meterProvider });
    const key = keyOn(c, "s1", "otel-metric");
    await c.set(key, "1");
    await c.lpush(key, "x").catch(() => undefined);
    await reader.forceFlush();
    const all = metrics.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const duration = all.find((m) => m.descriptor.name === "db.client.operation.duration")!;
    expect(duration.descriptor.unit).toBe("s");
    const points = duration.dataPoints.map((p) => p.attributes);
    expect(points).toContainEqual(expect.objectContaining({ "db.system.name": "redis", "db.operation.name": "SET", "shardis.shard": "s1", "server.port": Number(fleet.shards[1]!.master.split(":")[1]) }));
    expect(points).toContainEqual(expect.objectContaining({ "db.operation.name": "LPUSH", "error.type": "WRONGTYPE" }));
    const connections = all.find((m) => m.descriptor.name === "db.client.connection.count")!;
    const states = connections.dataPoints.map((p) => p.attributes["db.client.connection.state"]);
    expect(new Set(states)).toEqual(new Set(["idle", "used"]));
    await meterProvider.shutdown();
  });
});
