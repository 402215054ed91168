/**
 * Puts the families into a prom-client registry as collect-on-scrape
 * metrics: nothing is copied into prom-client on the hot path; a scrape
 * reads each client's figures once and formats them. Several clients may
 * share a registry (and prefix): their samples with identical labels are
 * summed, and a family leaves the registry with its last client.
 */
import { ConfigError } from "../errors.js";
import type { ResolvedMetrics } from "../config/metrics.js";
import type { MetricsRegistry } from "../config/types.js";
import type { Figures } from "./figures.js";
import { FAMILIES as CORE, type Family, type Sample } from "./families.js";
import { CACHE_FAMILIES } from "./cacheFamilies.js";
import { HOT_KEY_FAMILIES } from "./hotKeyFamilies.js";
import { NEAR_CACHE_FAMILIES } from "./nearCacheFamilies.js";
import { MIGRATION_FAMILIES } from "./migrationFamilies.js";

/** Every family shardis exports. */
export const FAMILIES: readonly Family[] = [...CORE, ...CACHE_FAMILIES, ...HOT_KEY_FAMILIES, ...NEAR_CACHE_FAMILIES, ...MIGRATION_FAMILIES];

/** Marks registry entries that shardis put there. */
const OWNED = Symbol.for("shardis.metricFamily");

type Source = () => Figures;

/** The object prom-client's Registry holds: it calls get() on every scrape. */
interface RegisteredFamily {
  readonly [OWNED]: true;
  readonly name: string;
  readonly help: string;
  readonly type: Family["type"];
  readonly aggregator: "sum";
  readonly sources: Set<Source>;
  get(): Promise<{ name: string; help: string; type: string; aggregator: "sum"; values: Sample[] }>;
  reset(): void;
}

export class MetricsExporter {
  private readonly registered: RegisteredFamily[] = [];
  private source: Source | undefined;

  /** Throws ConfigError when a metric name is taken by something that is not a shardis family. */
  constructor(private readonly options: ResolvedMetrics) {
    const taken = FAMILIES.map((f) => options.prefix + f.name).filter((name) => {
      const existing = options.registry.getSingleMetric(name) as Partial<RegisteredFamily> | undefined;
      return existing !== undefined && !existing[OWNED];
    });
    if (taken.length) {
      throw new ConfigError([`metrics: the registry already has metrics named ${taken.join(", ")}; choose another metrics.prefix`]);
    }
  }

  /** Starts exporting the figures `read` returns. */
  attach(read: Source): void {
    const registry = this.options.registry;
    this.source = memoPerTurn(read);
    for (const family of FAMILIES) {
      const name = this.options.prefix + family.name;
      let entry = registry.getSingleMetric(name) as RegisteredFamily | undefined;
      if (!entry) {
        entry = familyMetric(family, name);
        registry.registerMetric(entry as never);
      }
      entry.sources.add(this.source);
      this.registered.push(entry);
    }
  }

  /** Stops exporting this client's figures; families nobody else feeds leave the registry. */
  detach(): void {
    const registry: MetricsRegistry = this.options.registry;
    for (const entry of this.registered) {
      entry.sources.delete(this.source!);
      if (entry.sources.size === 0 && registry.getSingleMetric(entry.name) === entry) registry.removeSingleMetric(entry.name);
    }
    this.registered.length = 0;
  }
}

function familyMetric(family: Family, name: string): RegisteredFamily {
  const sources = new Set<Source>();
  return {
    [OWNED]: true,
    name,
    help: family.help,
    type: family.type,
    aggregator: "sum",
    sources,
    async get() {
      const perSource = [...sources].map((read) => family.samples(read(), name));
      const values = perSource.length === 1 ? perSource[0]! : sumByLabels(perSource.flat());
      return { name, help: family.help, type: family.type, aggregator: "sum", values };
    },
    // Counters here are the clients' own running totals: a registry reset does not rewind them.
    reset() {},
  };
}

/** Samples of several clients with the same series (name and labels) summed into one. */
export function sumByLabels(samples: Sample[]): Sample[] {
  const byKey = new Map<string, Sample>();
  for (const sample of samples) {
    const key = `${sample.metricName ?? ""}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    const seen = byKey.get(key);
    byKey.set(key, seen ? { ...sample, value: seen.value + sample.value } : sample);
  }
  return [...byKey.values()];
}

/** One reading per event-loop turn: a scrape asks every family at once, and they share it. */
function memoPerTurn(read: Source): Source {
  let cached: Figures | undefined;
  return () => {
    if (!cached) {
      cached = read();
      setImmediate(() => (cached = undefined));
    }
    return cached;
  };
}
