/**
 * What OpenTelemetry tracing costs, in an application whose work already
 * runs inside an OpenTelemetry context (AsyncLocalStorage in use, as under
 * any HTTP instrumentation), spans batched to an exporter that drops them:
 *
 *   shardis slots (OTel context)      the client, not instrumented
 *   shardis slots + otel unsampled    shardis/otel, AlwaysOffSampler
 *   shardis slots + otel              shardis/otel, every call sampled
 *   ioredis5 (OTel context)           ioredis 5, auto-pipelined, one client per node
 *   ioredis5 + otel                   the same with @opentelemetry/instrumentation-ioredis
 *                                     (the anchor: the official instrumentation supports ioredis < 6 only)
 *   otel SDK floor / unsampled        the SDK alone, one span as shardis/otel makes a GET's (otelFloor.ts)
 *   otel hits / + otel / floor      GETs answered by the near cache, untraced and sampled, and the
 *                                     SDK floor of their span (nearHits.ts): a call's tracing without I/O
 *
 * All in the same rounds; then what tracing adds per command and per
 * near-cache hit, how much of it the SDK's floor is, and the best
 * closed-loop ratio that floor leaves.
 */
import { createRequire } from "node:module";
import { context, createContextKey, type Context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { IORedisInstrumentation } from "@opentelemetry/instrumentation-ioredis";
import { AlwaysOffSampler, BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Redis } from "ioredis";
import { ShardedClient } from "shardis";
import { instrumentShardis } from "shardis/otel";
import { otelFloor } from "./otelFloor.js";
import { NEAR_HIT_ATTRIBUTES, nearHits, warmNearCache } from "./nearHits.js";
import { median, runWorkload, type RunResult, type Target, type WorkloadOptions } from "./workload.js";

export interface TracingBenchParts {
  readonly client: ShardedClient;
  /** The nodes' addresses (ioredis clients per node), and the key router for them. */
  readonly nodes: Redis[];
  readonly nodeOf: (key: string) => number;
  readonly keys: string[];
  readonly commands: WorkloadOptions;
  readonly log: (line?: string) => void;
  readonly compare: (variants: Record<string, () => Promise<RunResult>>, ratios: Array<[string, string, string, number?]>) => Promise<Record<string, RunResult[]>>;
}

/** Accepts every batch and keeps nothing: what export costs beyond the SDK is not this bench's. */
const DROP: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };
/** Spans per floor run, and near-cache hits per run (a fraction of a second each). */
const FLOOR_SPANS = 100_000;
const NEAR_HIT_CALLS = 100_000;

/** ioredis 5, installed as ioredis5 (CommonJS: the instrumentation patches its Redis class's prototype). */
type Redis5Class = new (options: { host: string; port: number; enableAutoPipelining: boolean }) => Redis;
const Redis5 = createRequire(import.meta.url)("ioredis5") as Redis5Class & { prototype: object };

export async function tracingBench(parts: TracingBenchParts): Promise<unknown> {
  const { client, nodes, nodeOf, keys, commands, log } = parts;
  log(`\n== tracing: OpenTelemetry spans for every call (batched, dropped), in an app already inside an OpenTelemetry context; ${commands.inflight} in flight`);
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  const sampled = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(DROP, { maxQueueSize: 65_536 })] });
  const unsampled = new BasicTracerProvider({ sampler: new AlwaysOffSampler(), spanProcessors: [new BatchSpanProcessor(DROP)] });
  const app: Context = context.active().setValue(createContextKey("request"), 1);
  /** The workload with every worker inside the application's context. */
  const inApp = (target: Target): Promise<RunResult> => context.with(app, () => runWorkload(target, keys, commands));
  const shardis: Target = { get: (k) => client.get(k), set: (k, v) => client.set(k, v) };
  const nodes5 = nodes.map((n) => new Redis5({ host: n.options.host!, port: n.options.port!, enableAutoPipelining: true }));
  const ioredis5: Target = { get: (k) => nodes5[nodeOf(k)]!.get(k), set: (k, v) => nodes5[nodeOf(k)]!.set(k, v) };
  // Patched by hand: its require hook looks for a module named "ioredis" (here that is ioredis 6). Spans with no parent span too.
  const anchor = new IORedisInstrumentation({ enabled: false, requireParentSpan: false });
  anchor.setTracerProvider(sampled);
  const [ioredisModule] = anchor.getModuleDefinitions();
  const near = new ShardedClient({ shards: nodes.map((n, i) => ({ name: `s${i}`, master: `${n.options.host}:${n.options.port}` })), nearCache: {} });
  const nearKeys = keys.slice(0, 1000);
  await warmNearCache(near, nearKeys);
  const hits = () => context.with(app, () => nearHits(near, nearKeys, NEAR_HIT_CALLS));
  const instrumented = (provider: BasicTracerProvider, run: () => Promise<RunResult> = () => inApp(shardis), traced: ShardedClient = client) => async () => {
    const handle = instrumentShardis(traced, { tracerProvider: provider });
    try {
      return await run();
    } finally {
      handle.disable();
    }
  };
  const floorTracer = sampled.getTracer("floor");
  const floorOff = unsampled.getTracer("floor");
  try {
    const results = await parts.compare(
      {
        "shardis slots (OTel context)": () => inApp(shardis),
        "shardis slots + otel unsampled": instrumented(unsampled),
        "shardis slots + otel": instrumented(sampled),
        "ioredis5 (OTel context)": () => inApp(ioredis5),
        "ioredis5 + otel": async () => {
          ioredisModule!.patch!(Redis5, "5.11.1");
          try {
            return await inApp(ioredis5);
          } finally {
            ioredisModule!.unpatch!(Redis5, "5.11.1");
          }
        },
        "otel SDK floor": () => otelFloor(floorTracer, app, FLOOR_SPANS),
        "otel SDK floor unsampled": () => otelFloor(floorOff, app, FLOOR_SPANS),
        "otel hits (OTel context)": hits,
        "otel hits + otel": instrumented(sampled, hits, near),
        "otel hits + otel unsampled": instrumented(unsampled, hits, near),
        "otel SDK floor hit span": () => otelFloor(floorTracer, app, FLOOR_SPANS, NEAR_HIT_ATTRIBUTES),
      },
      [
        ["shardis + otel / shardis (OTel context)", "shardis slots + otel", "shardis slots (OTel context)", 0.8],
        ["shardis + otel unsampled / shardis", "shardis slots + otel unsampled", "shardis slots (OTel context)"],
        ["shardis + otel / ioredis5 + otel", "shardis slots + otel", "ioredis5 + otel", 1],
        ["ioredis5 + otel / ioredis5", "ioredis5 + otel", "ioredis5 (OTel context)"],
      ],
    );
    costs(results, log);
    return results;
  } finally {
    await Promise.allSettled([...nodes5.map((n) => n.quit()), near.quit()]);
    await Promise.all([sampled.shutdown(), unsampled.shutdown()]);
    manager.disable();
    context.disable();
  }
}

/**
 * CPU per command (closed loop) and per near-cache hit (no I/O), traced
 * against not, beside the SDK's floor per span: what is the SDK's and what
 * is shardis's. Per-round differences, then their median and range.
 */
function costs(results: Record<string, RunResult[]>, log: (line?: string) => void): void {
  const cpu = (name: string) => results[name]?.map((r) => r.cpuMicrosPerOp);
  const spread = (values: number[]) => `${median(values).toFixed(2)} µs (rounds ${Math.min(...values).toFixed(2)} to ${Math.max(...values).toFixed(2)})`;
  /** Per round: `name`'s CPU per op less `base`'s, less each of `minus`. */
  const diff = (name: string, base: string, ...minus: string[]) => {
    const values = [name, base, ...minus].map(cpu);
    if (values.some((v) => v === undefined)) return undefined;
    const [top, bottom, ...rest] = values as number[][];
    return top!.map((v, i) => v - bottom![i]! - rest.reduce((sum, r) => sum + r[i]!, 0));
  };
  const line = (label: string, values: number[] | undefined) => values && log(`  ${label.padEnd(62)} ${spread(values)}`);
  log("CPU per call (medians over rounds, of per-round differences):");
  line("otel SDK floor: a sampled span (8 attributes)", cpu("otel SDK floor"));
  line("otel SDK floor: an unsampled span", cpu("otel SDK floor unsampled"));
  line("closed loop: shardis untraced, per command", cpu("shardis slots (OTel context)"));
  line("closed loop: added by shardis/otel unsampled", diff("shardis slots + otel unsampled", "shardis slots (OTel context)"));
  line("closed loop: added by shardis/otel sampled", diff("shardis slots + otel", "shardis slots (OTel context)"));
  line("closed loop: added by shardis/otel sampled, above the floor", diff("shardis slots + otel", "shardis slots (OTel context)", "otel SDK floor"));
  line("near hits: shardis untraced, per call", cpu("otel hits (OTel context)"));
  line("near hits: added by shardis/otel unsampled", diff("otel hits + otel unsampled", "otel hits (OTel context)"));
  line("near hits: the same above the unsampled floor", diff("otel hits + otel unsampled", "otel hits (OTel context)", "otel SDK floor unsampled"));
  line("otel SDK floor: a near hit's span (4 attributes)", cpu("otel SDK floor hit span"));
  line("near hits: added by shardis/otel sampled", diff("otel hits + otel", "otel hits (OTel context)"));
  line("near hits: the same above the floor (shardis's own)", diff("otel hits + otel", "otel hits (OTel context)", "otel SDK floor hit span"));
  // CPU-bound, throughput goes as 1 / CPU per command: the floor alone caps the closed loop's sampled ratio.
  const closed = cpu("shardis slots (OTel context)");
  const floor = cpu("otel SDK floor");
  if (closed && floor) {
    const ceiling = median(closed.map((v, i) => v / (v + floor[i]!)));
    log(`  best closed-loop sampled ratio the floor allows: ${ceiling.toFixed(2)}x (untraced CPU per command / (that + the floor))`);
  }
}
