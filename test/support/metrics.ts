/** Reading a prom-client registry in tests: values by metric name and labels. */
import type { Registry } from "prom-client";

export interface SeriesValue {
  readonly name: string;
  readonly labels: Record<string, string | number>;
  readonly value: number;
}

/** Every series of the registry, histogram parts under their own names (`..._bucket`, `..._count`). */
export async function series(registry: Registry): Promise<SeriesValue[]> {
  const metrics = await registry.getMetricsAsJSON();
  return metrics.flatMap((m) =>
    (m.values as Array<{ metricName?: string; labels: Record<string, string | number>; value: number }>).map((v) => ({
      name: v.metricName ?? m.name,
      labels: v.labels,
      value: v.value,
    })),
  );
}

/** Sum of a metric's series whose labels include `match`. */
export function total(all: SeriesValue[], name: string, match: Record<string, string> = {}): number {
  return all
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => String(s.labels[k]) === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** The one series of `name` with these labels, or undefined. */
export function one(all: SeriesValue[], name: string, match: Record<string, string>): SeriesValue | undefined {
  return all.find((s) => s.name === name && Object.entries(match).every(([k, v]) => String(s.labels[k]) === v));
}
