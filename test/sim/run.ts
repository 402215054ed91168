/**
 * npm run sim -- [--seeds N] [--from S] [--steps K] [--verbose] [--key K]
 * Runs seeds S..S+N-1 of the deterministic simulation (test/sim/simulate.ts)
 * and prints each failing seed with its violations and a one-line replay;
 * `--key K` adds key K's history (every node's changes, every call naming it).
 */
import { simulate } from "./simulate.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const seeds = arg("seeds", 1000);
const from = arg("from", 1);
const steps = arg("steps", 60);
const verbose = process.argv.includes("--verbose");
const keyAt = process.argv.indexOf("--key");
const traceKey = keyAt >= 0 ? process.argv[keyAt + 1] : undefined;
const started = performance.now();
let failed = 0;
let calls = 0;
let faults = 0;
for (let seed = from; seed < from + seeds; seed++) {
  const report = await simulate(seed, { steps, traceKey });
  calls += report.calls;
  faults += report.faults;
  if (report.violations.length || verbose) {
    if (report.violations.length) failed++;
    console.log(`seed ${seed}: ${report.violations.length ? "FAILED" : "ok"} (${report.config}; ${report.calls} calls, ${report.faults} faults)`);
    for (const v of report.violations.slice(0, 10)) console.log(`  - ${v}`);
    if (verbose || report.violations.length) for (const line of report.log) console.log(`    ${line}`);
    if (report.trace.length) console.log(`  ${traceKey}:\n${report.trace.map((line) => `    ${line}`).join("\n")}`);
    console.log(`  replay: npm run sim -- --seeds 1 --from ${seed} --steps ${steps} --verbose`);
  }
  if ((seed - from + 1) % 1000 === 0) console.log(`... ${seed - from + 1} seeds, ${failed} failed, ${Math.round(performance.now() - started)} ms`);
}
console.log(`${seeds} seeds (${from}..${from + seeds - 1}), ${calls} calls, ${faults} faults: ${failed} failed, ${Math.round(performance.now() - started)} ms`);
process.exit(failed ? 1 : 0);
