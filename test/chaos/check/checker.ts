/**
 * The soak's checker, over every client's history, the fault log and the
 * final state: two passes over the histories (learn every value written or
 * loaded, then judge every call), then the final reads and the processes'
 * ends. Each check is a verdict with its first offending history lines.
 */
import type { CallRecord, HistoryRecord, Recorded } from "../history.js";
import { keyOfValue } from "../keys.js";
import { errorType, untyped } from "./errors.js";
import type { LossWindows } from "./losses.js";
import { hasQueued, judge, type Knowledge } from "./replies.js";

export const CHECKS = {
  replies: "every reply belongs to its call: the command's shape, the key read, a value written before the read ended",
  queued: 'no "QUEUED" outside a transaction',
  durable: "every write acknowledged with writeConcern { replicas: 1 } is on the final master",
  counters: "counters never go backwards in a lane's sequential history, outside a logged data loss",
  watch: "a WATCH block's EXEC aborts only when its key may have changed (the lane's previous block on it failed, or a fault hit its shard)",
  errors: "every error is typed: a ShardisError, or a Redis reply passed through (OOM, LOADING, READONLY, NOPERM, EXECABORT, ...)",
  processes: "client processes: no crash; each exits 0 on its own after quit()",
  healed: "the topology is whole again at the end",
  recovered: "calls succeed once the topology is whole again (after a grace period)",
} as const;
export type CheckName = keyof typeof CHECKS;

export interface Verdict {
  readonly name: CheckName;
  readonly title: string;
  readonly pass: boolean;
  readonly violations: number;
  readonly examples: ReadonlyArray<{ reason: string; line: string }>;
  /** What was checked, and what a logged fault excused. */
  readonly note: string;
}

/**
 * A live growth (--grow): when the clients switched to the new owners. A
 * moving key written late in warm (past the copy window) or not read nor
 * copied in warm is on its old owner only from the switch on: the new owner
 * starts it empty (docs/scaling.md, the gap copyAll() leaves). That is the
 * only step back excused by the migration, and only when the value seen is
 * one an empty new owner explains.
 */
export interface GrowthFacts {
  readonly switchAt: number;
}

export interface ProcessEnd {
  readonly worker: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly hung?: string;
  readonly done?: unknown;
  readonly stderr: string;
}

interface Seen {
  readonly value: number;
  readonly start: number;
  readonly line: string;
}

const EXAMPLES = 5;

export class HistoryChecker implements Knowledge {
  private readonly writes = new Map<string, number>();
  private readonly loads = new Map<string, number>();
  private readonly lanes = new Map<string, Map<string, Seen>>();
  private readonly durable: Array<{ k: string; v: string; start: number; line: string }> = [];
  private readonly found = new Map<CheckName, { count: number; examples: Array<{ reason: string; line: string }> }>();
  private readonly excused = { counters: 0, ownWrites: 0, durable: 0, countersRestarted: 0, durableLeftBehind: 0 };
  /** Each lane's attempts to increment each counter (not refused), as [start, end]: how far an empty new owner can count. */
  private readonly increments = new Map<string, Array<[number, number]>>();
  private observations = 0;
  readonly calls = new Map<string, { ok: number; error: number }>();
  readonly errors = new Map<string, number>();
  /** WATCH blocks whose EXEC was aborted, and how many of them a failed earlier block or a fault explains. */
  execAborted = 0;
  private execExcused = 0;
  /** Each lane's last WATCH block per key: when it started, and whether it failed (its writes may land late). */
  private readonly watches = new Map<string, { start: number; failed: boolean }>();

  constructor(
    private readonly losses: LossWindows,
    /** Calls starting after this (wall ms) must succeed. */
    private readonly recoveredFrom = Infinity,
    private readonly growth?: GrowthFacts,
  ) {}

  /** Pass 1: every value written (or that may have been: failed writes too) and every value a cache loader produced. */
  learn(record: HistoryRecord): void {
    if (record.type === "load") this.loads.set(record.value, record.start);
    if (record.type !== "call") return;
    const a = record.args as Record<string, Recorded>;
    const wrote = (value: Recorded | undefined) => typeof value === "string" && this.writes.set(value, Math.min(record.start, this.writes.get(value) ?? Infinity));
    if (["set", "script", "writeConcern"].includes(record.op)) wrote(a.v);
    if (record.op === "mset") (a.vs as string[]).forEach(wrote);
    if (record.op === "pipeline" || record.op === "multi") wrote(a.v);
    const counter = record.op === "incr" || record.op === "watch" ? a.k : record.op === "pipeline" || record.op === "multi" ? a.n : undefined;
    if (typeof counter === "string" && record.error?.name !== "MigrationRefusedError") {
      const id = `${record.w}.${record.l} ${counter}`;
      const list = this.increments.get(id) ?? [];
      this.increments.set(id, list);
      list.push([record.start, record.end]);
    }
  }

  unreadable(key: string, value: Recorded, end: number): string | undefined {
    return this.why(this.writes, "written", key, value, end);
  }

  unloaded(key: string, value: Recorded, end: number): string | undefined {
    return value === null ? "no value" : this.why(this.loads, "loaded", key, value, end);
  }

  private why(source: Map<string, number>, verb: string, key: string, value: Recorded, end: number): string | undefined {
    if (value === null) return undefined;
    if (typeof value !== "string") return `not a value: ${JSON.stringify(value)?.slice(0, 80)}`;
    const owner = keyOfValue(value);
    if (owner !== key) return `read ${JSON.stringify(value.slice(0, 80))}, ${owner ? `a value of ${owner}` : "not a value of this soak"}`;
    const at = source.get(value);
    if (at === undefined) return `read ${value}, which nothing ${verb}`;
    // 1 ms: times are taken in different processes.
    if (at > end + 1) return `read ${value}, ${verb} ${(at - end).toFixed(1)} ms after the read ended`;
    return undefined;
  }

  /** Pass 2: one record, with its raw line for the report. */
  check(record: HistoryRecord, line: string): void {
    if (record.type === "crash") return this.flag("processes", `client w${record.w}: ${record.what.split("\n")[0]}`, line);
    if (record.type !== "call") return;
    const tally = this.calls.get(record.op) ?? { ok: 0, error: 0 };
    this.calls.set(record.op, tally);
    if (record.error) {
      tally.error++;
      this.countError(record.error, record.op, line);
      if (record.start >= this.recoveredFrom && record.error.name !== "ChaosLoaderError") {
        this.flag("recovered", `${record.op} failed ${((record.start - this.recoveredFrom) / 1000).toFixed(1)} s into the quiet period`, line);
      }
    } else tally.ok++;
    if (hasQueued(record.reply)) this.flag("queued", `${record.op} answered QUEUED`, line);
    const judged = judge(record, this);
    for (const problem of judged.problems) this.flag("replies", problem, line);
    for (const error of judged.errors) this.countError(error, record.op, line);
    if (judged.ownWriteMissed) {
      if (this.losses.covering(record.args.own as string, record.start, record.end)) this.excused.ownWrites++;
      else this.flag("replies", judged.ownWriteMissed, line);
    }
    this.observe(record, judged.observations, line);
    if (record.op === "writeConcern" && record.reply === "OK") {
      this.durable.push({ k: record.args.k as string, v: record.args.v as string, start: record.start, line });
    }
    if (record.op === "watch") this.watched(record, line);
  }

  private watched(record: CallRecord, line: string): void {
    const key = record.args.k as string;
    const id = `${record.w}.${record.l} ${key}`;
    const before = this.watches.get(id);
    this.watches.set(id, { start: record.start, failed: record.error !== undefined });
    if ((record.reply as { exec?: unknown } | undefined)?.exec !== null) return;
    this.execAborted++;
    // Nothing else writes a lane's balance: only a late write of an earlier block, or a fault around it, may touch it.
    if (before?.failed || this.losses.touching(key, before?.start ?? 0, record.end)) this.execExcused++;
    else this.flag("watch", `${key}: EXEC aborted (null) though nothing else writes the key and no fault hit its shard since the lane's last block`, line);
  }

  private countError(error: NonNullable<CallRecord["error"]>, op: string, line: string): void {
    const type = errorType(error);
    this.errors.set(type, (this.errors.get(type) ?? 0) + 1);
    const why = untyped(error, op);
    if (why) this.flag("errors", why, line);
  }

  private observe(record: CallRecord, observations: ReturnType<typeof judge>["observations"], line: string): void {
    const laneId = `${record.w}.${record.l}`;
    let lane = this.lanes.get(laneId);
    if (!lane) this.lanes.set(laneId, (lane = new Map()));
    for (const seen of observations) {
      this.observations++;
      const before = lane.get(seen.key);
      const backwards = before && (seen.kind === "incr" ? seen.value <= before.value : seen.value < before.value);
      if (before && backwards) {
        if (this.losses.covering(seen.key, before.start, record.end)) this.excused.counters++;
        else if (this.restartedAtSwitch(record, seen, before)) this.excused.countersRestarted++;
        else if (this.restartedAfterWipe(record, seen, before)) this.excused.counters++;
        else this.flag("counters", `${seen.key}: ${seen.kind === "incr" ? "INCR answered" : "read"} ${seen.value} after ${before.value} was seen`, `${before.line}\n      then ${line}`);
      }
      lane.set(seen.key, { value: seen.value, start: record.start, line });
    }
  }

  /**
   * A step back that a moving key's new owner starting it empty at the switch
   * explains: the earlier value seen before the switch, the later one after
   * it, and no more than the lane's increments of it that may have reached
   * the new owner (ended after the switch, started by the read). A stale
   * value (an old copy left on the new owner) is higher than that: never excused.
   */
  private restartedAtSwitch(record: CallRecord, seen: { key: string; value: number }, before: Seen): boolean {
    const g = this.growth;
    if (!g || !this.losses.moves(seen.key) || !(before.start < g.switchAt && record.end > g.switchAt)) return false;
    return seen.value <= this.countedSince(record, seen.key, g.switchAt);
  }

  /**
   * A moving key's old owner wiped before the switch: until then the new
   * owner may still hold a copy of the value from before the wipe (read
   * there, in warm) while writes reach the emptied old owner, so the step
   * back can show after the wipe healed. Excused only when the earlier value
   * was seen before the switch and the later one is no more than the lane
   * counted since the wipe (what the emptied owner can count to).
   */
  private restartedAfterWipe(record: CallRecord, seen: { key: string; value: number }, before: Seen): boolean {
    const g = this.growth;
    if (!g || before.start >= g.switchAt) return false;
    return this.losses.oldOwnerWipes(seen.key, Math.min(g.switchAt, record.end)).some((f) => seen.value <= this.countedSince(record, seen.key, f.at));
  }

  /** The lane's increments of the key that may have landed from `from` on, up to this call. */
  private countedSince(record: CallRecord, key: string, from: number): number {
    const attempts = this.increments.get(`${record.w}.${record.l} ${key}`) ?? [];
    return attempts.filter(([start, end]) => end >= from && start <= record.start).length;
  }

  private flag(check: CheckName, reason: string, line: string): void {
    const entry = this.found.get(check) ?? { count: 0, examples: [] };
    this.found.set(check, entry);
    entry.count++;
    if (entry.examples.length < EXAMPLES) entry.examples.push({ reason, line: line.length > 600 ? `${line.slice(0, 600)}...` : line });
  }

  /** The keys of acknowledged write-concern writes, to read from the final masters. */
  durableKeys(): string[] {
    return this.durable.map((d) => d.k);
  }

  /** Final verdicts, given the values read from the final masters, the client processes' ends and the final health. */
  finish(
    final: ReadonlyMap<string, string | null | undefined>,
    ends: readonly ProcessEnd[],
    unhealed: string | undefined,
    /** --grow: the values of moving keys on their old owner's final master. */
    oldOwners: ReadonlyMap<string, string | null | undefined> = new Map(),
  ): Verdict[] {
    for (const write of this.durable) {
      const value = final.get(write.k);
      if (value === write.v) continue;
      const excuse = this.losses.excuseForDurable(write.k, write.start);
      if (excuse) this.excused.durable++;
      // Written before the switch and never copied: kept on its old owner (docs/scaling.md), not lost.
      else if (this.growth && value === null && write.start < this.growth.switchAt && this.losses.moves(write.k)) {
        if (oldOwners.get(write.k) === write.v) this.excused.durableLeftBehind++;
        // ... and lost there with its old owner, wiped since.
        else if (this.losses.wipedOldOwner(write.k, write.start)) this.excused.durable++;
        else this.flag("durable", `${write.k}: acknowledged ${write.v} before the switch, on neither its new owner nor its old one (${JSON.stringify(oldOwners.get(write.k))}), which no logged wipe explains`, write.line);
      } else this.flag("durable", `${write.k}: acknowledged ${write.v}, the final master has ${value === undefined ? "(could not be read)" : JSON.stringify(value)}`, write.line);
    }
    for (const end of ends) {
      const bad = end.hung ?? (end.exitCode !== 0 || end.signal ? `exited with ${end.signal ?? `code ${end.exitCode}`}` : !end.done ? "exited without quitting" : undefined);
      if (bad) this.flag("processes", `client w${end.worker}: ${bad}`, end.stderr.trim().split("\n").slice(-3).join(" | "));
    }
    if (unhealed) this.flag("healed", unhealed, "");
    const notes: Record<CheckName, string> = {
      replies: `${this.total()} calls; ${this.excused.ownWrites} pipeline reads of their own write excused by a logged data loss`,
      queued: `${this.total()} calls`,
      durable: `${this.durable.length} acknowledged; ${this.excused.durable} excused by a logged wipe${this.growth ? `; ${this.excused.durableLeftBehind} written before the switch, never copied, still on their old owner` : ""}`,
      counters: `${this.observations} observations in ${this.lanes.size} lanes; ${this.excused.counters} steps back excused by a logged failover or wipe${this.growth ? `; ${this.excused.countersRestarted} restarts from empty at the switch (a moving key not copied)` : ""}`,
      watch: `${this.execAborted} of ${this.calls.get("watch")?.ok ?? 0} aborted; ${this.execExcused} excused by a failed earlier block or a fault`,
      errors: `${[...this.errors.values()].reduce((a, b) => a + b, 0)} errors`,
      processes: `${ends.length} processes`,
      healed: unhealed ?? "",
      recovered: Number.isFinite(this.recoveredFrom) ? "" : "skipped (interrupted)",
    };
    return (Object.keys(CHECKS) as CheckName[]).map((name) => {
      const entry = this.found.get(name);
      return { name, title: CHECKS[name], pass: !entry, violations: entry?.count ?? 0, examples: entry?.examples ?? [], note: notes[name] };
    });
  }

  total(): number {
    let n = 0;
    for (const t of this.calls.values()) n += t.ok + t.error;
    return n;
  }
}

