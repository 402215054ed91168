/**
 * What a command of a connection's handshake that the node refused means
 * for the node: refused credentials (AUTH, HELLO) or a refused SELECT make
 * every command to it fail fast with a typed error, rather than wait out its
 * deadline or, for SELECT, run on database 0.
 */
import { AuthenticationError, DatabaseError } from "../errors.js";
import type { FailOutcome } from "./observer.js";
import { isAuthFailure } from "./sanitize.js";

/** What the node said of a connection's handshake: refused (until a connection is ready again) or not. */
export class Handshake {
  /** Commands fail fast with this until a connection is ready. */
  refusal: AuthenticationError | DatabaseError | undefined;
  /** This connection's SELECT was refused: it is on another database, so it is dropped instead of used. */
  wrongDatabase = false;

  /** A connection-level error: the refusal it means, if it is one (remembered). */
  failed(raw: unknown, safe: Error, shard: string, node: string): AuthenticationError | DatabaseError | undefined {
    const refusal = handshakeRefusal(raw, safe, shard, node);
    if (refusal) {
      this.refusal = refusal;
      if (refusal instanceof DatabaseError) this.wrongDatabase = true;
    }
    return refusal;
  }

  /** How a command failed by the refusal is counted. */
  get outcome(): FailOutcome {
    return this.refusal instanceof DatabaseError ? "database" : "auth";
  }
}

/** `raw` as ioredis emitted it (it names the failing command), `safe` its sanitized copy. */
export function handshakeRefusal(raw: unknown, safe: Error, shard: string, node: string): AuthenticationError | DatabaseError | undefined {
  // Before the auth test: an ACL user without +select gets NOPERM, which alone reads as refused credentials.
  const db = refusedSelect(raw);
  if (db !== undefined) return new DatabaseError(shard, node, db, safe);
  if (isAuthFailure(safe)) return new AuthenticationError(shard, node, refusedUser(raw), safe.message);
  return undefined;
}

/** The user a refused AUTH or HELLO ... AUTH named (ioredis puts the command on the error); the password is never read. */
export function refusedUser(raw: unknown): string {
  const command = (raw as { command?: { name?: unknown; args?: unknown[] } } | null)?.command;
  const args = command?.args ?? [];
  if (command?.name === "hello" && String(args[1]).toUpperCase() === "AUTH") return String(args[2]);
  if (command?.name === "auth" && args.length === 2) return String(args[0]);
  return "default";
}

/** The database of a SELECT the node refused, when `raw` (an error as ioredis emitted it) is that. */
export function refusedSelect(raw: unknown): number | undefined {
  const error = raw as { name?: unknown; command?: { name?: unknown; args?: unknown[] } } | null;
  return error?.name === "ReplyError" && error.command?.name === "select" ? Number(error.command.args?.[0]) : undefined;
}
