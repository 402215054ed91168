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
