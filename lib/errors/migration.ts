/** What a live migration of a plain fleet (the `migration` option, reconfigure()) raises at call time. */
import { ShardisError } from "./base.js";

/**
 * The call cannot run now because a migration is moving its key (a blocking
 * command, a dedicated connection, a read-modify-write that would need both
 * owners at once), or the migration itself refuses it (reconfigure() while
 * one runs). Nothing was sent. `phase` is the
 * migration's phase; `retryAtMs` (epoch ms) when the call would be accepted,
 * or undefined when it never will be in this migration.
 */
export class MigrationRefusedError extends ShardisError {
  readonly command: string;
  readonly phase: string;
  readonly retryAtMs: number | undefined;

  constructor(command: string, phase: string, reason: string, retryAtMs?: number) {
    const when = retryAtMs === undefined ? "" : `; accepted again from ${new Date(retryAtMs).toISOString()}`;
    super("ERR_SHARDIS_MIGRATION_REFUSED", `${command.toUpperCase()} refused during the migration (phase ${phase}): ${reason}${when}`);
    this.command = command;
    this.phase = phase;
    this.retryAtMs = retryAtMs;
  }
}

/**
 * A write to a moving key ran on the owner that is authoritative now
 * (`applied`), but the other owner (`pending`) could not be invalidated
 * (`cause`: its error). The write happened, but a copy of the key's
 * previous value may stay on `pending` (read there by warm-phase reads):
 * retry the write (or a DEL of the key), which invalidates again. Not
 * retried by the client.
 */
export class MigrationWriteError extends ShardisError {
  readonly command: string;
  readonly applied: string;
  readonly pending: string;
  /** The write's own reply. */
  readonly reply: unknown;

  constructor(command: string, applied: string, pending: string, reply: unknown, cause: unknown) {
    super(
      "ERR_SHARDIS_MIGRATION_WRITE",
      `${command.toUpperCase()} ran on shard ${applied}, but shard ${pending} (the key's other owner during the migration) could not be invalidated: ${(cause as Error)?.message ?? String(cause)}; retry the write`,
      { cause },
    );
    this.command = command;
    this.applied = applied;
    this.pending = pending;
    this.reply = reply;
  }
}

/** What a copyAll() run did so far (docs/scaling.md); defined here so MigrationCopyError can carry it. */
export interface CopyAllProgress {
  /** `copy`: copying moving keys to their new owners; `retire`: deleting them from their old owners. */
  readonly mode: "copy" | "retire";
  /** Keys SCAN returned on the old owners (moving or not). */
  readonly scanned: number;
  readonly copied: number;
  /** Moving keys not copied (already on the new owner, gone from the old one, invalidated since the look, expired), or, retiring, already gone from the old owner. */
  readonly skipped: number;
  readonly deleted: number;
  /** Retiring: moving keys left on their old owner, never deleted: the new owner does not hold them (never copied, or deleted or evicted there since), or their value changed while it was checked. */
  readonly kept: number;
  readonly failed: number;
}

export interface CopyAllResult extends CopyAllProgress {
  /** Every old shard was scanned to its end. */
  readonly complete: boolean;
  /** Where each old shard not finished stopped (pass back as `cursors` to resume); empty when complete. */
  readonly cursors: Readonly<Record<string, string>>;
}

/**
 * copyAll() could not finish some old shards (`failures`, as
 * PartialFailureError's: each shard's name and error; their SCAN failed, or
 * no connection to them could be opened); the others were run to their end.
 * `result` is the run's counts, and its `cursors` say where each unfinished
 * shard stopped: pass them back as `cursors` to resume (`cause`: the first
 * failure's error).
 */
export class MigrationCopyError extends ShardisError {
  readonly result: CopyAllResult;
  readonly failures: ReadonlyArray<{ readonly shard: string; readonly error: Error }>;

  constructor(result: CopyAllResult, failures: ReadonlyArray<{ readonly shard: string; readonly error: Error }>) {
    const first = failures[0]?.error;
    super(
      "ERR_SHARDIS_MIGRATION_COPY",
      `copyAll() could not finish shard(s) ${failures.map((f) => f.shard).join(", ")}: ${first?.message ?? "failed"}; resume with the error's result.cursors (${JSON.stringify(result.cursors)})`,
      { cause: first },
    );
    this.result = result;
    this.failures = Object.freeze([...failures]);
  }
}

/**
 * reconfigure() changed nothing: a shard it adds was not ready within the
 * deadline (its handshake refused, nothing listening, ...), or a migration's
 * `startAt` passed while the shards it adds were readied. The shards it
 * added were released again (each keeps its index: naming it again with the
 * same nodes brings it back there), and the placement and migration in force
 * are the ones before the call. `failures`: `{ shard, error }` for each shard
 * not ready (`cause`: the first error).
 */
export class ReconfigureError extends ShardisError {
  readonly failures: ReadonlyArray<{ readonly shard: string; readonly error: Error }>;

  constructor(reason: string, failures: ReadonlyArray<{ readonly shard: string; readonly error: Error }> = []) {
    super("ERR_SHARDIS_RECONFIGURE", `reconfigure() changed nothing: ${reason}; the shards it added were taken out again, the placement and migration in force are the ones before the call`, {
      cause: failures[0]?.error,
    });
    this.failures = Object.freeze([...failures]);
  }

  /** Shards added whose masters were not ready (each error names its shard, node and cause). */
  static notReady(failures: ReadonlyArray<{ readonly shard: string; readonly error: Error }>): ReconfigureError {
    const shards = failures.map((f) => f.shard).join(", ");
    return new ReconfigureError(`shard(s) ${shards} not ready (${failures.map((f) => f.error.message).join("; ")}); retry once they answer`, failures);
  }
}
