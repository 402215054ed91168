/**
 * A closed-loop load generator: `inflight` workers each issue one command,
 * await it, and issue the next, for a fixed time. 50/50 GET/SET over a key
 * space, fixed-size values. Measures throughput, latency and client CPU.
 */
export interface Target {
  get(key: string): Promise<unknown>;
  set(key: string, value: string): Promise<unknown>;
}

export interface WorkloadOptions {
  keys: number;
  valueBytes: number;
  inflight: number;
  durationMs: number;
}

export interface RunResult {
  ops: number;
  errors: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuMicrosPerOp: number;
}

export function keyNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `bench:key:${i}`);
}

export async function preload(target: Target, keys: string[], value: string): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    await Promise.all(keys.slice(i, i + 1000).map((k) => target.set(k, value)));
  }
}

export async function runWorkload(target: Target, keys: string[], options: WorkloadOptions): Promise<RunResult> {
  const value = "v".repeat(options.valueBytes);
  const latencies = new Float64Array(4_000_000);
  let recorded = 0;
  let ops = 0;
  let errors = 0;
  let stop = false;
  const cpuStart = process.cpuUsage();
  const started = performance.now();

  const worker = async (seed: number) => {
    let state = seed * 2654435761 + 1;
    while (!stop) {
      // xorshift32: cheap, and the same sequence for every target.
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      const pick = (state >>> 0) % keys.length;
      const begin = performance.now();
      try {
        if (state & 1) await target.get(keys[pick]!);
        else await target.set(keys[pick]!, value);
      } catch {
        errors++;
      }
      if (recorded < latencies.length) latencies[recorded++] = performance.now() - begin;
      ops++;
    }
  };

  const workers = Array.from({ length: options.inflight }, (_, i) => worker(i + 1));
  await new Promise((resolve) => setTimeout(resolve, options.durationMs));
  stop = true;
  await Promise.all(workers);
  const elapsedSec = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const sorted = latencies.subarray(0, recorded).sort();
  return {
    ops,
    errors,
    opsPerSec: ops / elapsedSec,
    p50Ms: sorted[Math.floor(recorded * 0.5)] ?? 0,
    p99Ms: sorted[Math.floor(recorded * 0.99)] ?? 0,
    cpuMicrosPerOp: (cpu.user + cpu.system) / ops,
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
