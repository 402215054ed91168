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
  /** Ends the run when it settles, instead of after durationMs. */
  until?: Promise<unknown>;
  /** Kept up to date while the run goes, for a per-second view. */
  progress?: { ops: number; errors: number };
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

export interface PreloadOptions {
  /** Tries per key before the preload fails (5). */
  attempts?: number;
  /** Pause before the n-th retry of a batch's failures: n times this, in ms (250). */
  pauseMs?: number;
}

/**
 * Writes every key through the target, 1,000 at a time. On a loaded machine
 * a burst of 1,000 may meet its 1 s deadline, or a stall opens the node's
 * breaker (docs/benchmarks.md): the writes of a batch that failed are tried
 * again, a bounded number of times, after a pause a breaker's probe fits in
 * (its `retryInMs` when the error says it). Set-up only: what the variants
 * then measure is unchanged.
 */
export async function preload(target: Target, keys: string[], value: string, options: PreloadOptions = {}): Promise<void> {
  const attempts = options.attempts ?? 5;
  const pauseMs = options.pauseMs ?? 250;
  for (let i = 0; i < keys.length; i += 1000) {
    let pending = keys.slice(i, i + 1000);
    for (let attempt = 1; pending.length > 0; attempt++) {
      const outcomes = await Promise.allSettled(pending.map((k) => target.set(k, value)));
      const failures = outcomes.flatMap((o, j) => (o.status === "rejected" ? [{ key: pending[j]!, reason: o.reason as unknown }] : []));
      if (failures.length === 0) break;
      const first = failures[0]!.reason as { message?: string; retryInMs?: unknown };
      if (attempt >= attempts) {
        const why = first?.message ?? String(first);
        throw new Error(`preload: ${failures.length} of ${pending.length} writes still failed after ${attempts} attempts: ${why}`, { cause: first });
      }
      const probeDue = typeof first?.retryInMs === "number" ? first.retryInMs + 50 : 0;
      await new Promise((resolve) => setTimeout(resolve, Math.max(pauseMs * attempt, probeDue)));
      pending = failures.map((f) => f.key);
    }
  }
}

export async function runWorkload(target: Target, keys: string[], options: WorkloadOptions): Promise<RunResult> {
  const value = "v".repeat(options.valueBytes);
  return runLoop((random) => {
    const pick = random();
    // The top bit picks the command, the rest the key, so the two do not correlate.
    return pick >>> 31 ? target.get(keys[pick % keys.length]!) : target.set(keys[pick % keys.length]!, value);
  }, 1, options);
}

/**
 * A skewed read-mostly load: keys drawn by `draw` (a rank into keys, e.g.
 * Zipf), 95% GET / 5% SET. `counts`, when given, is incremented per rank
 * drawn: the truth a hot-key detector is checked against.
 */
export async function runSkewedWorkload(
  target: Target,
  keys: string[],
  options: WorkloadOptions & { draw: () => number; counts?: Uint32Array },
): Promise<RunResult> {
  const value = "v".repeat(options.valueBytes);
  const { counts } = options;
  // Drawn ahead (the same stream for every target), so the run measures the target rather than the sampler.
  const draws = new Uint32Array(1 << 20);
  for (let i = 0; i < draws.length; i++) draws[i] = options.draw();
  let next = 0;
  return runLoop((random) => {
    const rank = draws[next++ & (draws.length - 1)]!;
    if (counts) counts[rank]!++;
    return random() % 20 === 0 ? target.set(keys[rank]!, value) : target.get(keys[rank]!);
  }, 1, options);
}

/** Reads only: one read of a random key per step (a cache's hit path). */
export async function runReadWorkload(read: (key: string) => Promise<unknown>, keys: string[], options: WorkloadOptions): Promise<RunResult> {
  return runLoop((random) => read(keys[random() % keys.length]!), 1, options);
}

/** One operation of a mixed batch. */
export interface BatchOp {
  readonly kind: "get" | "set" | "incr" | "hset" | "hget";
  readonly key: string;
}

/** Sends a batch and resolves its replies in batch order. */
export interface BatchTarget {
  exec(ops: BatchOp[], value: string): Promise<unknown[]>;
}

/** Batches of `batchSize` mixed commands: 40% GET, 30% SET, 10% INCR, 10% HSET, 10% HGET. */
export async function runBatchWorkload(
  target: BatchTarget,
  keys: string[],
  options: WorkloadOptions & { batchSize: number },
): Promise<RunResult> {
  const value = "v".repeat(options.valueBytes);
  return runLoop(async (random) => {
    const ops: BatchOp[] = [];
    for (let i = 0; i < options.batchSize; i++) {
      const pick = random();
      const slot = pick % keys.length;
      const roll = (pick >>> 8) % 10;
      if (roll < 4) ops.push({ kind: "get", key: keys[slot]! });
      else if (roll < 7) ops.push({ kind: "set", key: keys[slot]! });
      else if (roll < 8) ops.push({ kind: "incr", key: `bench:counter:${slot % 1000}` });
      else if (roll < 9) ops.push({ kind: "hset", key: `bench:hash:${slot % 1000}` });
      else ops.push({ kind: "hget", key: `bench:hash:${slot % 1000}` });
    }
    const replies = await target.exec(ops, value);
    if (replies.length !== ops.length) throw new Error("batch lost replies");
  }, options.batchSize, options);
}

/**
 * The closed loop: `inflight` workers each run a step (one command or one
 * batch of opsPerStep), await it, and run the next, for durationMs (or until `until`
 * settles). Latency is per step. The clock ends the run, not a timer: a
 * target that answers from memory never yields to the event loop, and a
 * timer would never fire. A failed step yields one turn (see the loop).
 */
async function runLoop(step: (random: () => number) => Promise<unknown>, opsPerStep: number, options: WorkloadOptions): Promise<RunResult> {
  const latencies = new Float64Array(4_000_000);
  let recorded = 0;
  let ops = 0;
  let errors = 0;
  let stop = false;
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const deadline = options.until ? Infinity : started + options.durationMs;
  void options.until?.finally(() => (stop = true));

  const worker = async (seed: number) => {
    let state = seed * 2654435761 + 1;
    // xorshift32: cheap, and the same sequence for every target.
    const random = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return state >>> 0;
    };
    let begin = performance.now();
    let failed = false;
    while (!stop && begin < deadline) {
      try {
        await step(random);
        ops += opsPerStep;
        if (options.progress) options.progress.ops += opsPerStep;
      } catch {
        errors++;
        failed = true;
        if (options.progress) options.progress.errors++;
      }
      const end = performance.now();
      if (recorded < latencies.length) latencies[recorded++] = end - begin;
      begin = end;
      if (failed) {
        // A refused call (CircuitOpenError) settles without I/O: were every step refused, the loop would never reach
        // the event loop, nor would the breaker's half-open timer and its probe's write and reply (docs/benchmarks.md).
        // One event-loop turn per failure, outside any step's latency; successes are not touched.
        failed = false;
        await new Promise((resolve) => setImmediate(resolve));
        begin = performance.now();
      }
    }
  };

  await Promise.all(Array.from({ length: options.inflight }, (_, i) => worker(i + 1)));
  stop = true;
  const elapsedSec = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const sorted = latencies.subarray(0, recorded).sort();
  return {
    ops,
    errors,
    opsPerSec: ops / elapsedSec,
    p50Ms: sorted[Math.floor(recorded * 0.5)] ?? 0,
    p99Ms: sorted[Math.floor(recorded * 0.99)] ?? 0,
    cpuMicrosPerOp: (cpu.user + cpu.system) / Math.max(ops, 1),
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
