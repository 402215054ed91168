/**
 * shardis publishes its callers' commands on ioredis 6's own tracing
 * channels, in the shape ioredis gives them, so tools that subscribe there
 * (Sentry's ioredis integration; Datadog's and New Relic's as they move to
 * the channels) trace a service that swapped ioredis for shardis unchanged,
 * and correctly: each command from its caller's context, with start's
 * stores entered (runStores, as ioredis's tracePromise does), on the node
 * that carried it. ioredis itself publishes none of shardis's traffic
 * (connection/untraced.ts).
 *
 *   ioredis:command  { command, args (sanitized), database, serverAddress, serverPort }, result on success
 *   ioredis:batch    { batchMode: "MULTI", batchSize, database, serverAddress, serverPort }, for a MULTI block
 */
import diagnostics_channel from "node:diagnostics_channel";
import { BlockCommand } from "../commands/block.js";
import { CarriedRead, failureOf, type ShardisCommand } from "../commands/command.js";
import { sanitizeArgs } from "./sanitize.js";

const commandChannel = diagnostics_channel.tracingChannel<unknown, IoredisContext>("ioredis:command");
const batchChannel = diagnostics_channel.tracingChannel<unknown, IoredisContext>("ioredis:batch");

/** The fields ioredis 6 puts on its contexts (Redis.js: _buildCommandContext, _buildBatchContext). */
export interface IoredisContext {
  command?: string;
  args?: string[];
  batchMode?: "MULTI";
  batchSize?: number;
  database: number;
  serverAddress: string;
  serverPort: number | undefined;
  result?: unknown;
  error?: unknown;
  /** shardis's: the command went to another node (the context then names it). */
  movedTo(node: string): void;
}

export function ioredisTraced(): boolean {
  return commandChannel.hasSubscribers || batchChannel.hasSubscribers;
}

export function ioredisContext(cmd: ShardisCommand, node: string, database: number): IoredisContext {
  const context: IoredisContext = {
    database,
    serverAddress: "",
    serverPort: undefined,
    movedTo(to: string) {
      const colon = to.lastIndexOf(":");
      this.serverAddress = colon < 0 ? to : to.slice(0, colon).replace(/^\[|\]$/g, "");
      this.serverPort = colon < 0 ? undefined : Number(to.slice(colon + 1));
    },
  };
  context.movedTo(node);
  if (cmd instanceof BlockCommand) {
    context.batchMode = "MULTI";
    context.batchSize = cmd.queued.length;
  } else {
    context.command = cmd.name;
    context.args = sanitizeArgs(cmd.name, cmd.args);
  }
  return context;
}

/** Publishes the context as ioredis's tracePromise would for the command's promise. */
export function traceOnIoredis(context: IoredisContext, cmd: ShardisCommand): void {
  const channel = context.batchMode ? batchChannel : commandChannel;
  if (!channel.hasSubscribers) return;
  channel.start.runStores(context, () => {
    try {
      cmd.promise.then(
        (reply: unknown) => {
          // The reply as ioredis would have it (a cache read settles with its own object, the reply on it).
          context.result = cmd instanceof CarriedRead ? (reply as { raw: unknown }).raw : reply;
          channel.asyncStart.publish(context);
          channel.asyncEnd.publish(context);
        },
        (error: unknown) => {
          context.error = failureOf(error);
          channel.error.publish(context);
          channel.asyncStart.publish(context);
          channel.asyncEnd.publish(context);
        },
      );
    } finally {
      channel.end.publish(context);
    }
  });
}
