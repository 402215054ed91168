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
 *   shardis paced ...                 the three shardis variants at a fixed rate (pacedWorkload.ts):
 *                                     the same batches for all, so CPU per command differs by tracing alone
 *
 * All in the same rounds; then what a traced command adds over the
 * untraced one at the fixed rate, how much of it the SDK's floor is, and
 * the best closed-loop ratio that floor leaves.
 */
import { createRequire } from "node:module";
import { context, createContextKey, type Context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { IORedisInstrumentation } from "@opentelemetry/instrumentation-ioredis";
import { AlwaysOffSampler, BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Redis } from "ioredis";
import type { ShardedClient } from "shardis";
import { instrumentShardis } from "shardis/otel";
import { otelFloor } from "./otelFloor.js";
import { runPacedWorkload } from "./pacedWorkload.js";
import { median, runWorkload, type RunResult, type Target, type WorkloadOptions } from "./workload.js";

export interface TracingBenchParts {
  readonly client: ShardedClient;
  /** The nodes' addresses (ioredis clients per node), and the key router for them. */
  readonly nodes: Redis[];
  readonly nodeOf: (key: string) => number;
  readonly keys: string[];
  readonly commands: WorkloadOptions;
  readonly log: (line?: string) => void;
  /** Commands per second of the paced variants: below what the slowest (every call sampled) keeps up with here. */
  readonly pacedRate: number;
  readonly compare: (variants: Record<string, () => Promise<RunResult>>, ratios: Array<[string, string, string, number?]>) => Promise<Record<string, RunResult[]>>;
}

/** Accepts every batch and keeps nothing: what export costs beyond the SDK is not this bench's. */
const DROP: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };
/** Spans per floor run (a fraction of a second). */
const FLOOR_SPANS = 100_000;

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
  const paced = { rate: parts.pacedRate, durationMs: commands.durationMs, valueBytes: commands.valueBytes, maxInflight: 4096 };
  const pacedInApp = (target: Target): Promise<RunResult> => context.with(app, () => runPacedWorkload(target, keys, paced));
  const shardis: Target = { get: (k) => client.get(k), set: (k, v) => client.set(k, v) };
  const nodes5 = nodes.map((n) => new Redis5({ host: n.options.host!, port: n.options.port!, enableAutoPipelining: true }));
  const ioredis5: Target = { get: (k) => nodes5[nodeOf(k)]!.get(k), set: (k, v) => nodes5[nodeOf(k)]!.set(k, v) };
  // Patched by hand: its require hook looks for a module named "ioredis" (here that is ioredis 6). Spans with no parent span too.
  const anchor = new IORedisInstrumentation({ enabled: false, requireParentSpan: false });
  anchor.setTracerProvider(sampled);
  const [ioredisModule] = anchor.getModuleDefinitions();
  const instrumented = (provider: BasicTracerProvider, run = inApp) => async () => {
    const handle = instrumentShardis(client, { tracerProvider: provider });
    try {
      return await run(shardis);
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
        "shardis paced (OTel context)": () => pacedInApp(shardis),
        "shardis paced + otel unsampled": instrumented(unsampled, pacedInApp),
        "shardis paced + otel": instrumented(sampled, pacedInApp),
      },
      [
        ["shardis + otel / shardis (OTel context)", "shardis slots + otel", "shardis slots (OTel context)", 0.8],
        ["shardis + otel unsampled / shardis", "shardis slots + otel unsampled", "shardis slots (OTel context)"],
        ["shardis + otel / ioredis5 + otel", "shardis slots + otel", "ioredis5 + otel", 1],
        ["ioredis5 + otel / ioredis5", "ioredis5 + otel", "ioredis5 (OTel context)"],
      ],
    );
    costs(results, parts.pacedRate, log);
    return results;
  } finally {
    await Promise.allSettled(nodes5.map((n) => n.quit()));
    await Promise.all([sampled.shutdown(), unsampled.shutdown()]);
    manager.disable();
    context.disable();
  }
}

/** CPU per command, traced against not (at the fixed rate), beside the SDK's floor per span: what is the SDK's and what is shardis's. */
function costs(results: Record<string, RunResult[]>, rate: number, log: (line?: string) => void): void {
  const cpu = (name: string) => results[name]?.map((r) => r.cpuMicrosPerOp);
  const off = cpu("shardis paced (OTel context)");
  const floor = cpu("otel SDK floor");
  if (!off || !floor) return;
  const spread = (values: number[]) => `${median(values).toFixed(2)} µs (rounds ${Math.min(...values).toFixed(2)} to ${Math.max(...values).toFixed(2)})`;
  /** Per round: what `name` adds over the untraced client, CPU per command. */
  const added = (name: string) => cpu(name)?.map((v, i) => v - off[i]!);
  log(`CPU per command at ${rate} commands/s (medians over rounds; per-round differences):`);
  log(`  shardis untraced                          ${spread(off)}`);
  const floorOff = cpu("otel SDK floor unsampled");
  if (floorOff) log(`  otel SDK floor, unsampled span            ${spread(floorOff)}`);
  const unsampled = added("shardis paced + otel unsampled");
  if (unsampled) log(`  added by shardis/otel, unsampled          ${spread(unsampled)}`);
  log(`  otel SDK floor, sampled span              ${spread(floor)}`);
  const sampledAdded = added("shardis paced + otel");
  if (sampledAdded) {
    log(`  added by shardis/otel, sampled            ${spread(sampledAdded)}`);
    log(`  of which above the SDK floor              ${spread(sampledAdded.map((v, i) => v - floor[i]!))}`);
  }
  // CPU-bound, throughput goes as 1 / CPU per command: the floor alone caps the closed loop's sampled ratio.
  const closed = cpu("shardis slots (OTel context)");
  if (closed) {
    const ceiling = median(closed.map((v, i) => v / (v + floor[i]!)));
    log(`  best closed-loop sampled ratio the floor allows: ${ceiling.toFixed(2)}x (closed-loop untraced CPU / (that + floor))`);
  }
}
