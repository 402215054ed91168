/**
 * An open-loop load at a fixed rate: every millisecond or so, the commands
 * due since the start are issued (50/50 GET/SET, as runWorkload), whatever
 * is still in flight. The closed loop's CPU per command depends on its
 * throughput (a slower client writes smaller batches, so more write calls
 * per command); at the same rate every variant writes the same batches, and
 * the difference in CPU per command is what the variant itself costs. A
 * variant that cannot keep the rate shows it in opsPerSec.
 */
import type { RunResult, Target } from "./workload.js";

export interface PacedOptions {
  /** Commands per second. */
  rate: number;
  durationMs: number;
  valueBytes: number;
  /** Commands in flight beyond which none are issued (a variant that falls behind does not queue without bound). */
  maxInflight: number;
}

export async function runPacedWorkload(target: Target, keys: string[], options: PacedOptions): Promise<RunResult> {
  const value = "v".repeat(options.valueBytes);
  const latencies = new Float64Array(Math.ceil((options.rate * options.durationMs) / 1000) + 1);
  let recorded = 0;
  let issued = 0;
  let done = 0;
  let errors = 0;
  let state = 2654435761;
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const settle = (begin: number) => () => {
    done++;
    if (recorded < latencies.length) latencies[recorded++] = performance.now() - begin;
  };
  const fail = () => {
    done++;
    errors++;
  };
  let now = started;
  while (now - started < options.durationMs) {
    const due = Math.floor(((now - started) * options.rate) / 1000);
    for (; issued < due && issued - done < options.maxInflight; issued++) {
      // xorshift32, as runWorkload: the top bit picks the command, the rest the key.
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      const pick = state >>> 0;
      const key = keys[pick % keys.length]!;
      (pick >>> 31 ? target.get(key) : target.set(key, value)).then(settle(now), fail);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
    now = performance.now();
  }
  while (done < issued) await new Promise((resolve) => setTimeout(resolve, 1));
  const elapsedSec = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const sorted = latencies.subarray(0, recorded).sort();
  return {
    ops: done,
    errors,
    opsPerSec: done / elapsedSec,
    p50Ms: sorted[Math.floor(recorded * 0.5)] ?? 0,
    p99Ms: sorted[Math.floor(recorded * 0.99)] ?? 0,
    cpuMicrosPerOp: (cpu.user + cpu.system) / Math.max(done, 1),
  };
}
