/** A live migration's families (docs/scaling.md): its phase and what moving keys cost, per client. */
import type { Family } from "./families.js";

/** What a migration reports to the exporter (client.migration(), in short). */
export interface MigrationFigures {
  readonly phase: string;
  readonly fallbackReads: number;
  readonly copies: number;
  readonly copiesSkipped: number;
  readonly copyFailures: number;
  readonly writeCopies: number;
  readonly writeCopyFailures: number;
  readonly invalidations: number;
  readonly invalidationFailures: number;
}

const PHASES = ["before", "dual", "warm", "switch", "done"];

export const MIGRATION_FAMILIES: readonly Family[] = [
  {
    name: "migration_phase",
    help: "1 for the phase a live migration of the fleet is in (before, dual, warm, switch, done), 0 for the others; absent without a migration.",
    type: "gauge",
    samples: (f) => (f.migration ? PHASES.map((phase) => ({ labels: { phase }, value: f.migration!.phase === phase ? 1 : 0 })) : []),
  },
  {
    name: "migration_fallback_reads_total",
    help: "Warm-phase reads of a moving key that missed its new owner and read the old one.",
    type: "counter",
    samples: (f) => (f.migration ? [{ labels: {}, value: f.migration.fallbackReads }] : []),
  },
  {
    name: "migration_copies_total",
    help: "Fallback reads' copies to the new owner, by result: copied, skipped (nothing to copy, invalidated or copied since, past the window, expired), failed.",
    type: "counter",
    samples: (f) =>
      f.migration
        ? [
            { labels: { result: "copied" }, value: f.migration.copies },
            { labels: { result: "skipped" }, value: f.migration.copiesSkipped },
            { labels: { result: "failed" }, value: f.migration.copyFailures },
          ]
        : [],
  },
  {
    name: "migration_write_copies_total",
    help: "Values written in the warm phase (on the old owner) copied to the new owner with the write, by result: copied, failed (the write still answered).",
    type: "counter",
    samples: (f) =>
      f.migration
        ? [
            { labels: { result: "copied" }, value: f.migration.writeCopies },
            { labels: { result: "failed" }, value: f.migration.writeCopyFailures },
          ]
        : [],
  },
  {
    name: "migration_invalidations_total",
    help: "Keys invalidated on their other owner after a write of a moving key, by result: ok, failed (the write rejected with MigrationWriteError).",
    type: "counter",
    samples: (f) =>
      f.migration
        ? [
            { labels: { result: "ok" }, value: f.migration.invalidations },
            { labels: { result: "failed" }, value: f.migration.invalidationFailures },
          ]
        : [],
  },
];
