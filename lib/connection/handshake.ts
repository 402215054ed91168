/**
 * What a command of a connection's handshake that the node refused means
 * for the node: refused credentials (AUTH, HELLO) or a refused SELECT make
 * every command to it fail fast with a typed error, rather than wait out its
 * deadline or, for SELECT, run on database 0.
 */
import { AuthenticationError, DatabaseError } from "../errors.js";
import { isAuthFailure } from "./sanitize.js";

/** `raw` as ioredis emitted it (it names the failing command), `safe` its sanitized copy. */
export function handshakeRefusal(raw: unknown, safe: Error, shard: string, node: string): AuthenticationError | DatabaseError | undefined {
  // Before the auth test: an ACL user without +select gets NOPERM, which alone reads as refused credentials.
  const command = (raw as { command?: { name?: unknown; args?: unknown[] } } | null)?.command;
  if (safe.name === "ReplyError" && command?.name === "select") return new DatabaseError(shard, node, Number(command.args?.[0]), safe);
  if (isAuthFailure(safe)) return new AuthenticationError(shard, node, safe.message);
  return undefined;
}
