/**
 * Judges one call's reply against what was asked (workload.ts): the shape
 * its command answers with (SET: OK, INCR: an integer, a script: its own key
 * and value, a transaction: its own SET read back), and every value read
 * belongs to the key read and was written (or loaded) before the read
 * ended. Yields the counter values seen, for the monotonic check, and the
 * errors inside pipelines and transactions, for the typed-error check.
 */
import type { CallRecord, Recorded, RecordedError } from "../history.js";

export interface Knowledge {
  /** Why this value cannot be key's at time end (not one of its writes, or written later), or undefined. */
  unreadable(key: string, value: Recorded, end: number): string | undefined;
  /** The same for a value served by the cache: produced by a loader of that key. */
  unloaded(key: string, value: Recorded, end: number): string | undefined;
}

export interface Observation {
  readonly key: string;
  readonly value: number;
  /** An INCR must answer more than anything seen before; a read at least as much. */
  readonly kind: "incr" | "read";
}

export interface Judgement {
  readonly problems: string[];
  readonly observations: Observation[];
  /** Errors inside the reply (pipeline and transaction entries). */
  readonly errors: RecordedError[];
  /** A pipeline's GET of its own key missed the SET before it: a violation unless a data loss covers it. */
  readonly ownWriteMissed?: string;
}

type Entry = { readonly error: RecordedError } | { readonly value: Recorded | undefined } | undefined;

/** The arguments workload.ts records, by name. */
interface Args {
  readonly k: string;
  readonly v: string;
  readonly ks: string[];
  readonly own: string;
  readonly n: string;
  readonly r: string;
  readonly x: string;
}

/** A pipeline's or transaction's entries, as recorded: [null, result], or a failed one as ioredis gives it, [error] alone. */
function entries(reply: Recorded | undefined, length: number): Entry[] | undefined {
  if (!Array.isArray(reply) || reply.length !== length) return undefined;
  return reply.map((pair) => {
    if (!Array.isArray(pair) || pair.length < 1 || pair.length > 2) return undefined;
    const [error, value] = pair;
    if (pair.length === 1) return error && typeof error === "object" && "error" in error ? { error: error.error as RecordedError } : undefined;
    if (error && typeof error === "object" && "error" in error) return { error: error.error as RecordedError };
    return error === null ? { value } : undefined;
  });
}

const isInt = (v: Recorded | undefined): v is number => typeof v === "number" && Number.isInteger(v);
const counted = (v: Recorded | undefined): number | undefined => (v === null ? 0 : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : undefined);
const show = (v: unknown) => JSON.stringify(v)?.slice(0, 120);

export function judge(call: CallRecord, know: Knowledge): Judgement {
  const problems: string[] = [];
  const observations: Observation[] = [];
  const errors: RecordedError[] = [];
  let ownWriteMissed: string | undefined;
  const a = call.args as unknown as Args;
  const reply = call.reply;
  const expect = (ok: boolean, what: string): boolean => {
    if (!ok) problems.push(`${call.op}: ${what}, got ${show(reply)}`);
    return ok;
  };
  const readable = (key: string, value: Recorded | undefined) => {
    const why = know.unreadable(key, value ?? null, call.end);
    if (why) problems.push(`${call.op} ${key}: ${why}`);
  };
  const entryValue = (entry: Entry, what: string): Recorded | undefined => {
    if (entry && "error" in entry) errors.push(entry.error);
    else if (!entry) problems.push(`${call.op}: entry ${what} is neither [null, result] nor [error]: ${show(reply)}`);
    return entry && "value" in entry ? entry.value : undefined;
  };
  if (call.error) return { problems, observations, errors };
  switch (call.op) {
    case "get":
    case "getReplica":
      readable(a.k, reply);
      break;
    case "set":
    case "mset":
    case "writeConcern":
      expect(reply === "OK", "expected OK");
      break;
    case "del":
      expect(isInt(reply) && reply >= 0 && reply <= a.ks.length, `expected 0..${a.ks.length}`);
      break;
    case "mget": {
      const ks = a.ks;
      if (expect(Array.isArray(reply) && reply.length === ks.length, `expected ${ks.length} values`)) {
        ks.forEach((k, i) => readable(k, (reply as Recorded[])[i]));
      }
      break;
    }
    case "incr":
      if (expect(isInt(reply), "expected an integer")) observations.push({ key: a.k, value: reply as number, kind: "incr" });
      break;
    case "getCounter": {
      const value = counted(reply);
      if (expect(value !== undefined, "expected a counter")) observations.push({ key: a.k, value: value!, kind: "read" });
      break;
    }
    case "script":
      expect(Array.isArray(reply) && reply.length === 2 && reply[0] === a.k && reply[1] === a.v, `expected [${a.k}, ${a.v}]`);
      break;
    case "pipeline": {
      const e = entries(reply, 4);
      if (!expect(!!e, "expected 4 [error, result] pairs")) break;
      const set = entryValue(e![0], "SET");
      const own = entryValue(e![1], "GET own");
      const n = entryValue(e![2], "INCR");
      const r = entryValue(e![3], "GET register");
      if (set !== undefined && set !== "OK") problems.push(`pipeline SET ${a.own}: expected OK, got ${show(set)}`);
      if (own !== undefined) {
        if (set === "OK" && own !== a.v) {
          const why = know.unreadable(a.own, own, call.end);
          if (why) problems.push(`pipeline GET ${a.own}: ${why}`);
          else ownWriteMissed = `pipeline GET ${a.own} after its own SET: ${show(own)} instead of ${a.v}`;
        } else if (set !== "OK") readable(a.own, own);
      }
      if (n !== undefined) {
        if (isInt(n)) observations.push({ key: a.n, value: n, kind: "incr" });
        else problems.push(`pipeline INCR ${a.n}: expected an integer, got ${show(n)}`);
      }
      if (r !== undefined) readable(a.r, r);
      break;
    }
    case "multi": {
      const e = entries(reply, 3);
      if (!expect(!!e, "expected 3 [error, result] pairs")) break;
      const set = entryValue(e![0], "SET");
      const n = entryValue(e![1], "INCR");
      const x = entryValue(e![2], "GET");
      if (set !== undefined && set !== "OK") problems.push(`multi SET: expected OK, got ${show(set)}`);
      if (n !== undefined) {
        if (isInt(n)) observations.push({ key: a.n, value: n, kind: "incr" });
        else problems.push(`multi INCR ${a.n}: expected an integer, got ${show(n)}`);
      }
      // One transaction: its GET sees its own SET, whatever happens around it.
      if (x !== undefined && set === "OK" && x !== a.v) problems.push(`multi GET ${a.x}: expected its own SET ${a.v}, got ${show(x)}`);
      if (x !== undefined && set !== "OK") readable(a.x, x);
      break;
    }
    case "watch": {
      const r = reply as { got?: Recorded; exec?: Recorded } | null;
      const got = counted(r?.got ?? null);
      if (!expect(!!r && typeof r === "object" && got !== undefined, "expected { got: a counter, exec }")) break;
      observations.push({ key: a.k, value: got!, kind: "read" });
      if (r!.exec === null) break; // EXEC aborted by the WATCH: allowed (nothing else writes the key, but a migration touches it)
      const e = entries(r!.exec, 1);
      if (!expect(!!e, "expected EXEC's one [error, result] pair or null")) break;
      const set = entryValue(e![0], "SET");
      if (set === "OK") observations.push({ key: a.k, value: got! + 1, kind: "read" });
      else if (set !== undefined) problems.push(`watch SET: expected OK, got ${show(set)}`);
      break;
    }
    case "cache": {
      const why = know.unloaded(a.k, reply ?? null, call.end);
      if (why) problems.push(`cache ${a.k}: ${why}`);
      break;
    }
    default:
      problems.push(`unknown operation ${call.op}`);
  }
  return { problems, observations, errors, ...(ownWriteMissed ? { ownWriteMissed } : {}) };
}

/** "QUEUED" anywhere in a reply: a transaction's acknowledgement leaked to a caller. */
export function hasQueued(value: Recorded | undefined): boolean {
  if (value === "QUEUED") return true;
  if (Array.isArray(value)) return value.some(hasQueued);
  if (value && typeof value === "object") return Object.values(value).some((v) => hasQueued(v as Recorded));
  return false;
}
