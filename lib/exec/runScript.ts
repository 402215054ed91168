/**
 * Runs a defined script on one node: EVALSHA where the node is known to have
 * it cached, else EVAL (which caches it); a NOSCRIPT (after SCRIPT FLUSH, a
 * restart or a failover) falls back to EVAL once. Read-only scripts use the
 * _RO variants of both.
 */
import { ShardisCommand } from "../commands/command.js";
import type { Encoding } from "../commands/install.js";
import type { NodeClient, Pin } from "../connection/NodeClient.js";
import type { Script } from "../commands/script.js";

export async function runScript(
  node: NodeClient,
  script: Script,
  evalsha: ShardisCommand,
  args: unknown[],
  encoding: Encoding,
  timeoutMs: number,
  flags = 0,
  pin?: Pin,
): Promise<unknown> {
  const deadline = performance.now() + timeoutMs;
  if (node.knownScripts.has(script.sha)) {
    try {
      return await node.send(evalsha, timeoutMs, flags, pin);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
      node.knownScripts.delete(script.sha);
    }
  }
  // After a NOSCRIPT, EVAL gets what is left of the call's deadline, not a deadline of its own.
  const left = Math.max(0, deadline - performance.now());
  const result = node.send(new ShardisCommand(script.evalCommand, [script.lua, ...args], { replyEncoding: encoding }), left, flags, pin);
  try {
    return await result;
  } finally {
    // EVAL caches the script even when it raises; if it failed to compile, EVALSHA's NOSCRIPT brings us back here.
    node.knownScripts.add(script.sha);
  }
}
