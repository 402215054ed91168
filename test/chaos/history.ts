/**
 * The chaos soak's records, one JSON object per line: each client process
 * writes its calls (history-w<N>.jsonl), the fault loop its faults
 * (faults.jsonl). Times are wall-clock milliseconds with a fraction
 * (performance.timeOrigin + performance.now()), comparable across processes.
 */
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { createInterface } from "node:readline";

export const now = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;

/** An error as recorded: name, code (ShardisError) or Redis's reply prefix, message, nested failures. */
export interface RecordedError {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
  /** PartialFailureError's per-shard failures. */
  readonly failures?: RecordedError[];
}

/** A value as recorded: replies made JSON (Buffers as strings, errors inside arrays as { error }). */
export type Recorded = null | string | number | boolean | Recorded[] | { readonly error: RecordedError } | { readonly [k: string]: Recorded };

/** One call a client made. `op` names the workload operation; `args` are what the checker needs of it. */
export interface CallRecord {
  readonly type: "call";
  /** Client process (worker) number. */
  readonly w: number;
  /** Lane within the worker: its calls are sequential. */
  readonly l: number;
  readonly seq: number;
  readonly op: string;
  readonly args: Record<string, Recorded>;
  readonly start: number;
  readonly end: number;
  readonly reply?: Recorded;
  readonly error?: RecordedError;
}

/** A cache loader ran (its value may be served to any process). */
export interface LoadRecord {
  readonly type: "load";
  readonly w: number;
  readonly key: string;
  readonly value: string;
  readonly start: number;
}

/** Something that must never happen in a client process: an unhandled rejection or exception. */
export interface CrashRecord {
  readonly type: "crash";
  readonly w: number;
  readonly at: number;
  readonly what: string;
}

export type HistoryRecord = CallRecord | LoadRecord | CrashRecord;

/**
 * A fault as the loop logged it. `loss` marks faults after which a server
 * may have lost writes, with where (`shard`, or a cluster master's `slots`)
 * and when ([at, healedAt]); `wipe` faults lost a whole node's data.
 */
export interface FaultRecord {
  readonly type: "fault";
  readonly id: number;
  readonly kind: string;
  readonly target: string;
  readonly detail: string;
  readonly at: number;
  readonly healAt: number;
  readonly healedAt: number;
  readonly loss?: "async" | "wipe";
  readonly shard?: string;
  readonly slots?: Array<[number, number]>;
  /** A reshard: the slots it moved (cluster). */
  readonly moved?: Array<[number, number]>;
  /** The topology did not come back healthy within the bound. */
  readonly unhealed?: string;
}

export function recordError(error: unknown): RecordedError {
  if (!(error instanceof Error)) return { name: typeof error, message: String(error).slice(0, 200) };
  const coded = (error as { code?: unknown }).code;
  const code = typeof coded === "string" ? coded : /^[A-Z]{3,}\b/.exec(error.message)?.[0];
  const failures = (error as { failures?: Array<{ error: unknown }> }).failures;
  return {
    name: error.name,
    ...(code ? { code } : {}),
    message: error.message.slice(0, 240),
    ...(Array.isArray(failures) ? { failures: failures.map((f) => recordError(f.error)) } : {}),
  };
}

export function recordReply(value: unknown): Recorded {
  if (value === null || value === undefined) return null;
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  if (Buffer.isBuffer(value)) return value.toString();
  if (value instanceof Error) return { error: recordError(value) };
  if (Array.isArray(value)) return value.map(recordReply);
  if (typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, recordReply(v)]));
  return String(value);
}

/** Appends records as JSON lines; close() resolves once everything is on disk. */
export class JsonLines {
  private readonly stream: WriteStream;
  private closed = false;

  constructor(path: string) {
    this.stream = createWriteStream(path, { flags: "a" });
  }

  /** Ignored once closed: a cache refresh may still run a loader after the workload stopped. */
  write(record: object): void {
    if (!this.closed) this.stream.write(`${JSON.stringify(record)}\n`);
  }

  close(): Promise<void> {
    this.closed = true;
    return new Promise((resolve, reject) => {
      this.stream.once("error", reject);
      this.stream.end(() => resolve());
    });
  }
}

/** Reads a JSON lines file, one parsed record and its raw line at a time; a torn last line is skipped. */
export async function* readJsonLines<T>(path: string): AsyncGenerator<{ record: T; line: string }> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    try {
      yield { record: JSON.parse(line) as T, line };
    } catch {
      // A process killed mid-write leaves half a line; the crash itself is reported elsewhere.
    }
  }
}
