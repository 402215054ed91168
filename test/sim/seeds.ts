/**
 * The simulation's share of `npm run test:unit`: a range of seeds, each of
 * which must finish with no violation; a failure names every failing seed
 * with its violations and the line that replays it.
 */
import { expect } from "vitest";
import { simulate, type SimReport } from "./simulate.js";

/** Workload steps per seed in the unit share (npm run sim defaults to 60: longer runs, more faults each). */
export const UNIT_STEPS = 24;

export async function expectSeedsPass(seeds: Iterable<number>, steps = UNIT_STEPS): Promise<SimReport[]> {
  const reports: SimReport[] = [];
  const failures: string[] = [];
  for (const seed of seeds) {
    const report = await simulate(seed, { steps });
    reports.push(report);
    if (report.violations.length) {
      failures.push(
        `seed ${seed} (${report.config}): ${report.violations.slice(0, 3).join("; ")}\n  replay: npm run sim -- --seeds 1 --from ${seed} --steps ${steps} --verbose`,
      );
    }
  }
  expect(failures).toEqual([]);
  return reports;
}

export function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}
