/**
 * The growth part of npm run bench (`--only growth`): a plain fleet grown
 * 3 -> 4 and shrunk 4 -> 3 under the cache service workload, by a
 * migration (docs/scaling.md) and, for comparison, by a plain config switch.
 *
 * Each run is a fresh process (growthWorker.ts) on four fresh, flushed
 * servers: a warm-up, a steady window, the change, a window after. Per run,
 * against the steady window: hit ratio during the change / steady, database
 * loads per second during / steady (and the change's busiest second, and
 * the window after it), failed reads and commands, p99 during / steady. Variants run in a rotating order, `runs` times each; the table
 * gives each ratio's median and [min - max] over the runs.
 */
import { fileURLToPath } from "node:url";
import { startRedisMany, stopAll } from "../support/redis.js";
import { worker } from "./cacheBench.js";
import type { Window } from "./growthWorker.js";
import { median } from "./workload.js";

const WORKER = fileURLToPath(new URL("./growthWorker.ts", import.meta.url));

/**
 * The workload: RATE reads/s (64 loops, each paced), Zipf(1.0) over KEYS,
 * values living TTL_MS, a database taking LOADER_MS a load (hit ratio about
 * 0.9 in steady state). Windows: WARM_MS not measured, STEADY_MS, the
 * change, AFTER_MS.
 */
const SETTINGS = { KEYS: 20_000, TTL_MS: 30_000, LOADER_MS: 2, INFLIGHT: 64, RATE: 4000, WARM_MS: 2000, STEADY_MS: 4000, AFTER_MS: 4000 };

const VARIANTS: Array<[name: string, direction: "grow" | "shrink", mode: "migration" | "switch"]> = [
  ["grow 3 -> 4, migration", "grow", "migration"],
  ["grow 3 -> 4, plain switch", "grow", "switch"],
  ["shrink 4 -> 3, migration", "shrink", "migration"],
  ["shrink 4 -> 3, plain switch", "shrink", "switch"],
];

interface WorkerResult {
  steady: Window;
  during: Window;
  after: Window;
  p99ByPhase: Record<string, number>;
  migration: { copies: number; fallbackReads: number; copyFailures: number; invalidationFailures: number } | null;
}

/** One run's figures against its steady window. */
export interface GrowthRun {
  hitSteady: number;
  hitDuring: number;
  hitAfter: number;
  loadsPerSecSteady: number;
  loadsPerSecDuring: number;
  /** The most loads in one second of the change. */
  loadsPeakSecond: number;
  loadsPerSecAfter: number;
  p99SteadyMs: number;
  p99DuringMs: number;
  failed: number;
  copies: number;
}

const hit = (w: Window) => (w.reads ? 1 - w.loads / w.reads : Number.NaN);
const perSec = (w: Window) => w.loads / (w.ms / 1000);

/** [label, what of a run, target and met? (none: shown, not judged)] */
const RATIOS: Array<[string, (r: GrowthRun) => number, [string, (v: number) => boolean]?]> = [
  ["hit during/steady", (r) => r.hitDuring / r.hitSteady, [">= 0.95", (v) => v >= 0.95]],
  ["loads/s during/steady", (r) => r.loadsPerSecDuring / r.loadsPerSecSteady, ["<= 1.2", (v) => v <= 1.2]],
  ["peak 1 s loads/steady", (r) => r.loadsPeakSecond / r.loadsPerSecSteady],
  ["loads/s after/steady", (r) => r.loadsPerSecAfter / r.loadsPerSecSteady],
  ["failed", (r) => r.failed, ["0", (v) => v === 0]],
  ["p99 during/steady", (r) => r.p99DuringMs / r.p99SteadyMs, ["<= 2", (v) => v <= 2]],
];

export async function growthBench(parts: { runs: number; phaseMs: number; log: (line?: string) => void }): Promise<Record<string, GrowthRun[]>> {
  const { log } = parts;
  log(
    `\n== growth: cache service (getOrSet, Zipf(1.0) over ${SETTINGS.KEYS} keys, TTL ${SETTINGS.TTL_MS / 1000} s, database ${SETTINGS.LOADER_MS} ms a load, ` +
      `${SETTINGS.INFLIGHT} in flight); phases of ${parts.phaseMs / 1000} s; ${parts.runs} runs per variant, each a fresh process`,
  );
  const servers = await startRedisMany(4);
  const results: Record<string, GrowthRun[]> = Object.fromEntries(VARIANTS.map(([name]) => [name, []]));
  try {
    for (let run = 0; run < parts.runs; run++) {
      // Rotated each run: drift of this machine weighs on every variant alike.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + run) % VARIANTS.length]!);
      for (const [name, direction, mode] of order) {
        // New owners start empty (docs/scaling.md's assumption): every server flushed before each run.
        await Promise.all(servers.map((s) => s.client().flushall()));
        const env = { ...SETTINGS, SHARDS: servers.map((s) => s.address).join(","), DIRECTION: direction, MODE: mode, PHASE_MS: parts.phaseMs, NAMESPACE: `growth${run}`, SEED: run + 1 };
        // A worker that could not start (a starved machine: connecting took longer than the 1 s timeout) is run again, once, said so.
        const out = await worker<WorkerResult>(env, WORKER).catch(async (error: unknown) => {
          log(`  run ${run + 1}/${parts.runs}  ${name}: the worker failed (${String(error).split("\n").find((l) => l.includes("Error:")) ?? error}); once more`);
          await Promise.all(servers.map((s) => s.client().flushall()));
          return worker<WorkerResult>(env, WORKER);
        });
        const r: GrowthRun = {
          hitSteady: hit(out.steady),
          hitDuring: hit(out.during),
          hitAfter: hit(out.after),
          loadsPerSecSteady: perSec(out.steady),
          loadsPerSecDuring: perSec(out.during),
          loadsPeakSecond: Math.max(0, ...out.during.seconds.map((second) => second.loads)),
          loadsPerSecAfter: perSec(out.after),
          p99SteadyMs: out.steady.p99Ms,
          p99DuringMs: out.during.p99Ms,
          failed: [out.steady, out.during, out.after].reduce((n, w) => n + w.errors + w.failed, 0),
          copies: out.migration?.copies ?? 0,
        };
        results[name]!.push(r);
        log(
          `  run ${run + 1}/${parts.runs}  ${name.padEnd(28)} hit ${r.hitSteady.toFixed(3)} -> ${r.hitDuring.toFixed(3)} (after ${r.hitAfter.toFixed(3)})  ` +
            `loads/s ${Math.round(r.loadsPerSecSteady)} -> ${Math.round(r.loadsPerSecDuring)} (peak ${r.loadsPeakSecond}, after ${Math.round(r.loadsPerSecAfter)})  p99 ${r.p99SteadyMs.toFixed(2)} -> ${r.p99DuringMs.toFixed(2)} ms  ` +
            `reads/s ${Math.round(out.steady.reads / (out.steady.ms / 1000))} -> ${Math.round(out.during.reads / (out.during.ms / 1000))}  failed ${r.failed}` +
            (out.migration ? `  copies ${out.migration.copies}, fallback reads ${out.migration.fallbackReads}, copy failures ${out.migration.copyFailures}` : "") +
            `\n      p99 by phase: ${Object.entries(out.p99ByPhase).map(([phase, ms]) => `${phase} ${ms.toFixed(2)}`).join(", ")} ms`,
        );
      }
    }
  } finally {
    await stopAll(servers);
  }
  log(`medians over ${parts.runs} runs [min - max]; targets for the migrations (${RATIOS.filter((r) => r[2]).map(([label, , t]) => `${label} ${t![0]}`).join(", ")}); the plain switches are the comparison:`);
  log(`  ${"variant".padEnd(28)} ${RATIOS.map(([label]) => label.padEnd(24)).join("")}`);
  for (const [name, , mode] of VARIANTS) {
    const runs = results[name]!;
    const cells = RATIOS.map(([, of, target]) => {
      const values = runs.map(of);
      const mid = median(values);
      const verdict = mode === "migration" && target ? (target[1](mid) ? " met" : " MISSED") : "";
      return `${mid.toFixed(2)} [${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)}]${verdict}`.padEnd(24);
    });
    log(`  ${name.padEnd(28)} ${cells.join("")}`);
  }
  return results;
}
