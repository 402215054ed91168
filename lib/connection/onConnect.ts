/**
 * What a connection writes the moment it is ready, ahead of every queued
 * command: the context's onConnect commands (READONLY on a cluster) and, for
 * the near cache, CLIENT TRACKING ON. A refusal of one changes nothing a
 * caller asked for: the feature it serves goes without it, and says so.
 */
import { internalCommand } from "../commands/command.js";
import type { Connection } from "./connection.js";
import type { NodeContext } from "./context.js";
import type { NodeClient } from "./NodeClient.js";
import { turnTrackingOn } from "./tracking.js";
import { within } from "../util/within.js";

export function writeOnConnect(connection: Connection, context: NodeContext, node: NodeClient): void {
  for (const [name, feature] of context.onConnect ?? []) {
    const cmd = internalCommand(name);
    cmd.promise.catch((error: Error) => context.refused?.(node, feature, error));
    connection.sendCommand(cmd);
  }
  if (context.tracking) turnTrackingOn(connection, context.tracking, node);
}

/** QUIT, waiting at most `ms` for its answer (a node that stopped answering must not hold up a close). */
export function quitWithin(connection: Connection, ms: number): Promise<void> {
  return within(connection.quit(), ms);
}
