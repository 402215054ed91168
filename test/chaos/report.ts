/** The soak's closing report: faults injected by kind, calls by operation, errors by type, and each verdict. */
import type { HistoryChecker, Verdict } from "./check/checker.js";
import type { FaultRecord } from "./history.js";

export interface Summary {
  readonly title: string;
  readonly faults: readonly FaultRecord[];
  readonly checker: HistoryChecker;
  readonly verdicts: readonly Verdict[];
  readonly outDir: string;
  /** --grow: each client's migration counters at its end. */
  readonly migrated?: readonly string[];
}

const n = (x: number) => x.toLocaleString("en-US");

function tally(entries: Iterable<[string, number]>): string {
  return [...entries].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${n(v)}`).join(", ") || "none";
}

export function report({ title, faults, checker, verdicts, outDir, migrated = [] }: Summary): string {
  const lines: string[] = [`== ${title}`];
  const kinds = new Map<string, number>();
  for (const f of faults) kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1);
  const losses = faults.filter((f) => f.loss).length;
  const wipes = faults.filter((f) => f.loss === "wipe").length;
  lines.push(`faults injected: ${faults.length} (${tally(kinds)}); ${losses} may lose writes (${wipes} wipes); ${faults.filter((f) => f.unhealed).length} not healed in time`);
  let ok = 0;
  let failed = 0;
  const ops: Array<[string, number]> = [];
  for (const [op, t] of checker.calls) {
    ok += t.ok;
    failed += t.error;
    ops.push([op, t.ok + t.error]);
  }
  lines.push(`calls: ${n(ok + failed)} (${n(ok)} ok, ${n(failed)} failed): ${tally(ops)}`);
  lines.push(`errors by type (calls, and entries of pipelines and transactions): ${tally(checker.errors)}`);
  lines.push(...migrated);
  lines.push("verdicts:");
  for (const v of verdicts) {
    lines.push(`  ${v.pass ? "PASS" : "FAIL"}  ${v.title}${v.note ? ` [${v.note}]` : ""}${v.pass ? "" : `: ${n(v.violations)} violations`}`);
    for (const example of v.examples) {
      lines.push(`        - ${example.reason}`);
      if (example.line) lines.push(`          ${example.line}`);
    }
  }
  lines.push(`histories and fault log: ${outDir}`);
  return lines.join("\n");
}
