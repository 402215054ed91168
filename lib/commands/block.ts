/**
 * A MULTI/EXEC block as one command. MULTI, the queued commands and EXEC
 * travel as one entry through every queue, so they are accepted, refused,
 * expired, handed over and written together, never in part: a MULTI
 * written without its EXEC would leave a shared connection inside a
 * transaction, and every other caller would get QUEUED.
 *
 * The block's own promise is EXEC's reply (raw: an array of Buffers and
 * errors, or null when a WATCHed key changed). A block may end with
 * DISCARD instead: MULTI then DISCARD asks whether the node accepts MULTI
 * and leaves nothing behind either way. Each queued command keeps
 * its promise: the server's QUEUED or its refusal once written, or the
 * block's failure when the block never went out.
 */
import { internalCommand, ShardisCommand } from "./command.js";

const ignore = (): void => undefined;

export class BlockCommand extends ShardisCommand {
  readonly multi = internalCommand("multi");
  /** What is written before the block's own EXEC (or DISCARD): [ASKING,] MULTI, the queued commands. */
  readonly head: readonly ShardisCommand[];

  /** `asking`: ASKING goes first, so a cluster node importing the block's slot serves it (the flag holds until EXEC). */
  constructor(
    readonly queued: readonly ShardisCommand[],
    end: "exec" | "discard" = "exec",
    readonly asking = false,
  ) {
    super(end, [], { replyEncoding: null });
    this.head = asking ? [internalCommand("asking"), this.multi, ...queued] : [this.multi, ...queued];
    // A part's failure is the block's to report (EXECABORT, or the block's own error): never an unhandled rejection.
    for (const part of this.head) part.promise.catch(ignore);
  }

  /** Fails the block; parts the server never answered fail with it (written ones were answered before EXEC, in order). */
  override rejectFinal(error: Error): void {
    super.rejectFinal(error);
    for (const part of this.head) if (!part.isSettled) part.rejectFinal(error);
  }

  override clone(): BlockCommand {
    return new BlockCommand(this.queued.map((cmd) => cmd.clone()), this.name as "exec" | "discard", this.asking);
  }
}
