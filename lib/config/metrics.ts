/**
 * Validation and defaults of the `metrics` and `tracing` options. The
 * registry is the caller's object: it is kept by reference and never frozen.
 */
import { createRequire } from "node:module";
import { describe } from "./address.js";
import { isBoolean, isPlainObject, intRange, unknownKeys } from "./checks.js";
import { DEFAULTS, MAX_TIMEOUT_MS } from "./defaults.js";
import type { MetricsRegistry } from "./types.js";

export interface ResolvedMetrics {
  readonly registry: MetricsRegistry;
  readonly prefix: string;
  readonly serverStatsIntervalMs: number;
  readonly latencyBuckets: readonly number[];
  readonly hotKeyLabels: boolean;
}

export interface ResolvedTracing {
  readonly includeArgs: boolean;
}

const METRICS_FIELDS = ["registry", "prefix", "serverStatsIntervalMs", "latencyBuckets", "hotKeyLabels"];
/** Prometheus metric names: letters, digits, underscores and colons, not starting with a digit. */
const PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** undefined when metrics are off. */
export function resolveMetrics(value: unknown, problems: string[]): ResolvedMetrics | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) {
    problems.push(`metrics must be an object { registry?, prefix?, serverStatsIntervalMs?, latencyBuckets?, hotKeyLabels? } (got ${describe(value)})`);
    return undefined;
  }
  unknownKeys(value, METRICS_FIELDS, "option in metrics", problems);
  const registry = value.registry ?? promClientRegister();
  if (!isRegistry(registry)) problems.push(`metrics.registry must be a prom-client Registry (got ${describe(registry)})`);
  const prefix = value.prefix ?? DEFAULTS.metrics.prefix;
  if (typeof prefix !== "string" || (prefix !== "" && !PREFIX.test(prefix))) {
    problems.push(`metrics.prefix must be letters, digits, '_' or ':', not starting with a digit (got ${describe(prefix)})`);
  }
  const interval = value.serverStatsIntervalMs ?? DEFAULTS.metrics.serverStatsIntervalMs;
  if (interval !== 0 && intRange(100, MAX_TIMEOUT_MS)(interval)) {
    problems.push(`metrics.serverStatsIntervalMs must be an integer 0 (off) or from 100 to ${MAX_TIMEOUT_MS} (got ${describe(interval)})`);
  }
  const buckets = value.latencyBuckets ?? DEFAULTS.metrics.latencyBuckets;
  if (
    !Array.isArray(buckets) ||
    buckets.length === 0 ||
    buckets.length > 50 ||
    !buckets.every((b, i) => typeof b === "number" && Number.isFinite(b) && b > 0 && (i === 0 || b > buckets[i - 1]))
  ) {
    problems.push("metrics.latencyBuckets must be 1 to 50 increasing positive numbers of seconds");
  }
  const hotKeyLabels = value.hotKeyLabels ?? DEFAULTS.metrics.hotKeyLabels;
  if (typeof hotKeyLabels !== "boolean") problems.push(`metrics.hotKeyLabels ${isBoolean(hotKeyLabels)}`);
  // Frozen here, so the caller's registry inside is never deep-frozen with the rest of the options.
  return Object.freeze({
    registry: registry as MetricsRegistry,
    prefix: prefix as string,
    serverStatsIntervalMs: interval as number,
    latencyBuckets: Object.freeze([...(buckets as number[])]),
    hotKeyLabels: hotKeyLabels as boolean,
  });
}

export function resolveTracing(value: unknown, problems: string[]): ResolvedTracing {
  if (value === undefined) return DEFAULTS.tracing;
  if (!isPlainObject(value)) {
    problems.push(`tracing must be an object { includeArgs? } (got ${describe(value)})`);
    return DEFAULTS.tracing;
  }
  unknownKeys(value, ["includeArgs"], "option in tracing", problems);
  const includeArgs = value.includeArgs ?? DEFAULTS.tracing.includeArgs;
  const problem = isBoolean(includeArgs);
  if (problem) problems.push(`tracing.includeArgs ${problem}`);
  return { includeArgs: includeArgs === true };
}

/**
 * prom-client's global registry. Loaded here, when metrics are on and no
 * registry is given, so a client without metrics never loads prom-client.
 */
function promClientRegister(): unknown {
  return (createRequire(import.meta.url)("prom-client") as { register: MetricsRegistry }).register;
}

function isRegistry(value: unknown): value is MetricsRegistry {
  const r = value as Record<string, unknown> | null;
  return (
    typeof r === "object" &&
    r !== null &&
    typeof r.registerMetric === "function" &&
    typeof r.getSingleMetric === "function" &&
    typeof r.removeSingleMetric === "function"
  );
}
