/**
 * Client tracking on one connection, for the near cache: RESP3
 * invalidation messages passed to the hooks, and `CLIENT TRACKING ON`
 * written at every connect, ahead of anything queued, so each read written
 * after it is tracked; its reply says whether tracking is on.
 */
import { internalCommand } from "../commands/command.js";
import type { Connection } from "./connection.js";
import type { TrackingHooks } from "./context.js";
import type { NodeClient } from "./NodeClient.js";
import { sanitizeError } from "./sanitize.js";

/** Listens for invalidations on the connection. */
export function listenForInvalidations(connection: Connection, tracking: TrackingHooks, node: NodeClient): void {
  connection.on("invalidate", (keys) => tracking.invalidated(node, keys === null ? null : keys.map(String)));
}

/** Writes CLIENT TRACKING ON now (the connection just became ready) and reports how it went. */
export function turnTrackingOn(connection: Connection, tracking: TrackingHooks, node: NodeClient): void {
  const cmd = internalCommand("client", [...tracking.command]);
  cmd.promise.then(
    () => tracking.on(node),
    (error: unknown) => tracking.refused(node, sanitizeError(error)),
  );
  connection.sendCommand(cmd);
}
