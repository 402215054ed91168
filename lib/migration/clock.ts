/**
 * The phases of a migration as a pure function of the wall clock, so every
 * process given the same migration switches at the same instants without
 * talking to the others. `boundMs` (S: clock skew plus a completed command's
 * longest life) is how far apart two processes' views may be; the phases
 * are built so that any two adjacent ones are safe together (docs/scaling.md).
 */
import type { ResolvedTiming } from "../config/migration.js";

export type Phase = "before" | "dual" | "warm" | "switch" | "done";

export const PHASES: readonly Phase[] = ["before", "dual", "warm", "switch", "done"];

export interface PhaseState {
  readonly phase: Phase;
  /** Epoch ms the phase began (-Infinity before the migration). */
  readonly since: number;
  /** Epoch ms it ends (Infinity once done). */
  readonly until: number;
}

export class PhaseClock {
  /** S: the most two processes' clocks differ, plus the longest a completed command takes. */
  readonly boundMs: number;
  readonly dualAt: number;
  readonly warmAt: number;
  /** The last S of the warm phase: reads of the new owner only, writes there first. */
  readonly switchAt: number;
  readonly doneAt: number;
  /** Fallback reads copy only before this: every copy lands before any process reaches the switch. */
  readonly copyUntil: number;
  /** From here no process reads the old owners (the last switch writes have landed): they may be retired or cleaned. */
  readonly retireAt: number;

  constructor(readonly timing: ResolvedTiming, commandTimeoutMs: number) {
    const { startAt, phaseMs, clockSkewMs, copyWindowMs } = timing;
    this.boundMs = clockSkewMs + commandTimeoutMs;
    this.dualAt = startAt;
    this.warmAt = startAt + phaseMs;
    this.doneAt = startAt + 2 * phaseMs;
    this.switchAt = this.doneAt - this.boundMs;
    this.copyUntil = this.switchAt - this.boundMs - copyWindowMs;
    this.retireAt = this.doneAt + this.boundMs;
  }

  phaseAt(now: number): Phase {
    if (now < this.dualAt) return "before";
    if (now < this.warmAt) return "dual";
    if (now < this.switchAt) return "warm";
    if (now < this.doneAt) return "switch";
    return "done";
  }

  state(now: number): PhaseState {
    const phase = this.phaseAt(now);
    const bounds: Record<Phase, [number, number]> = {
      before: [-Infinity, this.dualAt],
      dual: [this.dualAt, this.warmAt],
      warm: [this.warmAt, this.switchAt],
      switch: [this.switchAt, this.doneAt],
      done: [this.doneAt, Infinity],
    };
    const [since, until] = bounds[phase];
    return { phase, since, until };
  }

  /** A fallback read decided now may copy (warm, early enough). */
  copies(now: number): boolean {
    return now >= this.warmAt && now < this.copyUntil;
  }
}

/**
 * The steps from `previous` to `phase`, each as [entered, left]: one step when the clock moved one
 * boundary, several when a busy process noticed two at once (its timer late), so a `migration:phase`
 * listener sees every phase in order. A clock stepped back (NTP) gives the one step it took.
 */
export function phaseSteps(phase: Phase, previous: Phase): Array<readonly [Phase, Phase]> {
  const from = PHASES.indexOf(previous);
  const to = PHASES.indexOf(phase);
  if (to <= from + 1) return [[phase, previous]];
  return PHASES.slice(from + 1, to + 1).map((entered, i) => [entered, PHASES[from + i]!] as const);
}
