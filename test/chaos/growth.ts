/**
 * `--grow` (plain topology): the clients start on 4 shards with a migration
 * from the first 3, timed so that dual, warm and switch all run while the
 * faults do and `done` comes before the quiet period. The phase instants
 * are lib/migration's own clock (PhaseClock), so the checker knows exactly
 * when a key's old and new owner held it.
 */
import { DEFAULTS } from "../../lib/config/defaults.js";
import { PhaseClock } from "../../lib/migration/clock.js";
import type { Growth } from "./topology.js";

/**
 * Every client runs on this machine, on one clock: the real skew is 0. The
 * margin covers a phase decided at a command's dispatch on a starved
 * event loop; a larger one would only lengthen the end of warm where
 * writes are no longer copied (copies stop 2 S + W before the switch).
 */
export const CLOCK_SKEW_MS = 250;
/**
 * The default 2 s: longer than the fault proxy's delays (up to 1.5 s), so
 * fallback copies made through a delayed link still land and the copy race
 * (a copy against a concurrent write's invalidation) runs under faults; a
 * copy slower than this (a 2 s DEBUG SLEEP of the new owner) is refused,
 * which is safe and counted.
 */
export const COPY_WINDOW_MS = 2000;

/**
 * The migration for a fault period of faultMs from faultsFrom (the clients
 * being ready): dual from 20% into it, each timed phase 30% of it, so
 * `done` is at 80% (the fault loop is made to last past it in any case).
 */
export function growth(faultsFrom: number, faultMs: number): Growth {
  const S = CLOCK_SKEW_MS + DEFAULTS.commandTimeoutMs;
  return {
    startAt: Math.round(faultsFrom + 0.2 * faultMs),
    phaseMs: Math.max(Math.round(0.3 * faultMs), 2 * (S + COPY_WINDOW_MS) + 1000),
    clockSkewMs: CLOCK_SKEW_MS,
    copyWindowMs: COPY_WINDOW_MS,
  };
}

/** The phase instants every client switches at (the same computation as theirs). */
export function phaseClock(grow: Growth): PhaseClock {
  return new PhaseClock(
    { startAt: Number(grow.startAt), phaseMs: grow.phaseMs!, clockSkewMs: grow.clockSkewMs!, copyWindowMs: grow.copyWindowMs! },
    DEFAULTS.commandTimeoutMs,
  );
}
