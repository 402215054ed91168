/**
 * The `shardis:command` tracing channel (node:diagnostics_channel), for
 * OpenTelemetry and similar tools. Each command that reaches a node's queue
 * publishes start and end when it is accepted, then error (if it failed),
 * asyncStart and asyncEnd when it settles, all with one context object
 * (the same order tracePromise uses). Nothing is built or published unless
 * someone subscribes. Keys, values and replies never appear in it unless
 * `tracing.includeArgs` puts the arguments there.
 */
import diagnostics_channel from "node:diagnostics_channel";
import { failureOf, withoutArguments, type ShardisCommand } from "../commands/command.js";

export const COMMAND_CHANNEL = "shardis:command";

/** The context object every event of one command carries. */
export interface CommandTrace {
  readonly shard: string;
  /** "host:port" of the node that answered (updated when a failover hands the command over). */
  node: string;
  readonly role: "master" | "replica";
  /** Lower-case command name ("get", "hset", ...); any command, not only known ones. */
  readonly command: string;
  /** Commands written together with this one (set once written; 0 if it never was). */
  batchSize: number;
  /** Milliseconds from acceptance to settlement (set before asyncStart). */
  durationMs: number;
  /** Arguments, keys and values included: only with `tracing: { includeArgs: true }`. */
  readonly args?: readonly unknown[];
  /** Set by diagnostics_channel on the error event. */
  error?: unknown;
}

export const commandChannel = diagnostics_channel.tracingChannel<string, CommandTrace>(COMMAND_CHANNEL);

/** Whether anyone listens (checked per command; a property read). */
export function tracingActive(): boolean {
  return commandChannel.hasSubscribers;
}

/**
 * Builds the command's context and publishes start and end now, and error
 * (if it fails), asyncStart and asyncEnd when it settles. Done by hand
 * rather than with tracePromise(), which would put the reply (cache
 * contents) on the context and hand the caller a second promise.
 */
export function traceCommand(
  cmd: ShardisCommand,
  where: Pick<CommandTrace, "shard" | "node" | "role">,
  startedAt: number,
  includeArgs: boolean,
): CommandTrace {
  const trace: CommandTrace = { ...where, command: cmd.name, batchSize: 0, durationMs: 0, ...(includeArgs ? { args: [...cmd.args] } : {}) };
  const channel = commandChannel;
  channel.start.publish(trace);
  channel.end.publish(trace);
  const settled = (error?: unknown) => {
    trace.durationMs = performance.now() - startedAt;
    if (error !== undefined) {
      // A reply error carries the command's arguments (ioredis's error.command): only where includeArgs lets them in.
      trace.error = includeArgs ? failureOf(error) : withoutArguments(failureOf(error));
      channel.error.publish(trace);
    }
    channel.asyncStart.publish(trace);
    channel.asyncEnd.publish(trace);
  };
  cmd.promise.then(() => settled(), settled);
  return trace;
}
