/**
 * copyAll(): the copier for data that is not a cache (docs/scaling.md). It
 * SCANs each old owner and, for every key whose owner changes, does what a
 * warm fallback read does (look at the new owner, DUMP + PTTL on the old,
 * copy-if-absent with the tombstone check, RESTORE ... ABSTTL): the same
 * scripts, so copyAll, warm reads and writers' invalidations cannot race
 * each other into a stale value. The old owner keeps its value while it is
 * authoritative (reads of dual, writes through warm); once no process can
 * use it any more (doneAt + S), a run deletes the moved keys' leftovers
 * from the old owners instead, each only if its new owner holds it (never
 * the last copy). Throttled to `rate` keys a second, resumable by cursors
 * (also from a MigrationCopyError, when some old shard failed: the others
 * are run to their end), idempotent (a second run copies nothing).
 */
import type { CallOptions } from "../config/callOptions.js";
import type { Script } from "../commands/script.js";
import { InvalidArgumentError } from "../errors.js";
import { MigrationCopyError, MigrationRefusedError, type CopyAllProgress, type CopyAllResult } from "../errors/migration.js";
import type { Phase, PhaseClock } from "./clock.js";
import type { MigrationStatus } from "./Migrator.js";
import type { Placements } from "./route.js";
import { COPY, DIGEST, DUMP, OBSERVE, RETIRE, TOMB_PREFIX } from "./scripts.js";

export type { CopyAllProgress, CopyAllResult } from "../errors/migration.js";

export interface CopyAllOptions {
  /** Keys a second, at most (each scanned key that moves counts once). */
  readonly rate: number;
  /** Keys asked of each SCAN (its COUNT). @default 100 */
  readonly batch?: number;
  /** Stops the run between keys: it resolves with `complete: false` and the cursors to resume from (as when a copying run reaches the end of warm's copy window). */
  readonly signal?: AbortSignal;
  /** Where to resume, by old shard name (a previous result's `cursors`, or a MigrationCopyError's `result.cursors`); shards not named start at "0". */
  readonly cursors?: Readonly<Record<string, string>>;
  /** Called after each SCAN batch with the counts so far. */
  readonly onProgress?: (progress: CopyAllProgress) => void;
  /** Retiring: called for each moving key kept on its old owner (`from`; `to` its new owner does not hold it), by shard name: inspect it, copy it or flush it yourself. */
  readonly onKept?: (key: Buffer, from: string, to: string) => void;
}

/** What client.migration() returns: the migration's status now, and its copier. */
export interface MigrationControl extends MigrationStatus {
  /** Copies the moving keys to their new owners (or, past doneAt + S, deletes them from their old ones); see docs/scaling.md. */
  copyAll(options: CopyAllOptions): Promise<CopyAllResult>;
}

/** What the copier needs of the executor. */
export interface CopierHost {
  runScript(script: Script, args: unknown[], encoding: null, call: CallOptions, shard: number): Promise<unknown>;
  /** A connection of its own to a shard's master for fn (returned after), with CLIENT NO-TOUCH on where the server has it. */
  onShard<T>(shard: number, fn: (send: (name: string, args: unknown[]) => Promise<unknown>) => Promise<T>): Promise<T>;
  shardName(index: number): string;
  /** The shard is still in the client's layout (a removed one is released once the migration is done). */
  present(index: number): boolean;
  /** How the copier's commands to new owners are sent (the client's command timeout, on masters). */
  readonly call: CallOptions;
  /** Adds to the migration's counters (its metrics). */
  count(copied: number, skipped: number, failed: number): void;
}

export interface CopierMigration {
  readonly clock: PhaseClock;
  readonly placements: Placements;
  readonly copyWindowMs: number;
  phase(): Phase;
}

/** What a run may do now: copy (from dual + S to the end of warm's copy window), retire (from doneAt + S), or neither. */
export function copierMode(clock: PhaseClock, now: number): "copy" | "retire" | { refused: string; retryAtMs: number | undefined } {
  if (now >= clock.dualAt + clock.boundMs && now < clock.copyUntil) return "copy";
  if (now >= clock.retireAt) return "retire";
  if (now < clock.dualAt + clock.boundMs) {
    return { refused: "copies start once every process is in dual (startAt + clockSkewMs + commandTimeoutMs)", retryAtMs: clock.dualAt + clock.boundMs };
  }
  return {
    refused: "copies end with warm's copy window (a copy landing after a process switched could undo its write); a run after doneAt + clockSkewMs + commandTimeoutMs deletes the moved keys from their old owners",
    retryAtMs: clock.retireAt,
  };
}

export async function copyAll(host: CopierHost, migration: CopierMigration, options: CopyAllOptions, now: () => number): Promise<CopyAllResult> {
  const { rate, batch = 100, signal, cursors = {}, onProgress, onKept } = options ?? ({} as CopyAllOptions);
  if (!(typeof rate === "number" && rate > 0 && Number.isFinite(rate))) throw new InvalidArgumentError(`copyAll: rate must be a positive number of keys a second (got ${String(rate)})`);
  if (!(Number.isInteger(batch) && batch > 0)) throw new InvalidArgumentError(`copyAll: batch must be a positive integer (got ${String(batch)})`);
  const mode = copierMode(migration.clock, now());
  if (typeof mode !== "string") throw new MigrationRefusedError("copyAll", migration.phase(), mode.refused, mode.retryAtMs);
  const counts = { scanned: 0, copied: 0, skipped: 0, deleted: 0, kept: 0, failed: 0 };
  const left: Record<string, string> = {};
  const failures: Array<{ shard: string; error: Error }> = [];
  const pace = pacer(rate, signal);
  // A long run stops where copies stop being safe (the end of warm's copy window): the result says where to resume from.
  const stop = () => signal?.aborted === true || (mode === "copy" && now() >= migration.clock.copyUntil);
  const { from, to } = migration.placements;
  // A shard the migration removed is released once it is done: nothing of it is left to retire here (flush it yourself).
  for (const shard of from.shards.filter((i) => host.present(i))) {
    const name = host.shardName(shard);
    let cursor = cursors[name] ?? "0";
    let finished = false;
    // A shard that fails (its SCAN, or no connection to it) keeps the cursor it reached; the other shards go on.
    if (!stop()) await host.onShard(shard, async (send) => {
      do {
        const [next, keys] = (await send("scan", [cursor, "COUNT", batch])) as [Buffer, Buffer[]];
        counts.scanned += keys.length;
        // Its own keys that move (tombstones are the migration's own, and never move).
        const moving = keys.filter((k) => !k.subarray(0, TOMB_PREFIX.length).equals(TOMB_BYTES) && from.strategy.shardIndexOf(k) === shard && to.strategy.shardIndexOf(k) !== shard);
        for (const key of moving) {
          if (stop() || !(await pace()) || stop()) break;
          const owner = to.strategy.shardIndexOf(key);
          const outcome = await (mode === "copy" ? copyOne(host, send, migration, key, owner) : retireOne(host, send, key, owner)).catch(() => "failed" as const);
          counts[outcome]++;
          if (outcome === "kept") onKept?.(key, name, host.shardName(owner));
          if (mode === "copy") host.count(outcome === "copied" ? 1 : 0, outcome === "skipped" ? 1 : 0, outcome === "failed" ? 1 : 0);
        }
        if (stop()) break; // the batch is redone on resume: every step is idempotent
        cursor = String(next);
        onProgress?.({ mode, ...counts });
      } while (cursor !== "0");
      finished = true;
    }).catch((error: unknown) => {
      if (!finished) failures.push({ shard: name, error: error instanceof Error ? error : new Error(String(error)) });
    });
    if (!finished) left[name] = cursor;
  }
  const result: CopyAllResult = Object.freeze({ mode, ...counts, complete: Object.keys(left).length === 0, cursors: Object.freeze(left) });
  if (failures.length) throw new MigrationCopyError(result, failures);
  return result;
}

const TOMB_BYTES = Buffer.from(TOMB_PREFIX);

/** One moving key: look at the new owner, DUMP the old one (on the copier's connection), copy if still absent and not invalidated since the look. */
async function copyOne(host: CopierHost, send: (name: string, args: unknown[]) => Promise<unknown>, migration: CopierMigration, key: Buffer, to: number): Promise<"copied" | "skipped"> {
  const [exists, tomb, seenMs] = (await host.runScript(OBSERVE, [key], null, host.call, to)) as [number, Buffer, number];
  if (exists === 1) return "skipped";
  const [payload, pttl] = (await send("eval", [DUMP.lua, 1, key])) as [Buffer | null, number];
  if (!payload) return "skipped";
  const args = [key, tomb, String(seenMs), String(migration.copyWindowMs), String(pttl), payload];
  return (await host.runScript(COPY, args, null, host.call, to)) === 1 ? "copied" : "skipped";
}

/**
 * Past doneAt + S: the old owner's leftover of a moved key deleted, only if
 * the new owner holds the key (else the old owner may hold its last copy:
 * never copied, or lost there since; kept) and only the value checked (a
 * write landing on the old owner meanwhile keeps it). Nothing within the
 * clock bound writes old owners now; the new owner's value may differ from
 * the old one (written since switch): it is the newer one.
 */
async function retireOne(host: CopierHost, send: (name: string, args: unknown[]) => Promise<unknown>, key: Buffer, to: number): Promise<"deleted" | "skipped" | "kept"> {
  const digest = await send("eval", [DIGEST.lua, 1, key]);
  if (digest === null) return "skipped";
  const [exists] = (await host.runScript(OBSERVE, [key], null, host.call, to)) as [number];
  if (exists !== 1) return "kept";
  const outcome = await send("eval", [RETIRE.lua, 1, key, digest]);
  return outcome === 1 ? "deleted" : outcome === 0 ? "kept" : "skipped";
}

/** Resolves when the next key may go at `rate` keys a second (false once aborted). */
function pacer(rate: number, signal: AbortSignal | undefined): () => Promise<boolean> {
  const started = performance.now();
  let sent = 0;
  return async () => {
    if (signal?.aborted) return false;
    const dueMs = (sent++ / rate) * 1000 - (performance.now() - started);
    if (dueMs > 1) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, dueMs);
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          resolve();
        }
        signal?.addEventListener("abort", done, { once: true });
      });
    }
    return !signal?.aborted;
  };
}
