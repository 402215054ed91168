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
  if (isAuthFailure(safe)) return new AuthenticationError(shard, node, safe.message);
  return undefined;
}

/** The database of a SELECT the node refused, when `raw` (an error as ioredis emitted it) is that. */
export function refusedSelect(raw: unknown): number | undefined {
  const error = raw as { name?: unknown; command?: { name?: unknown; args?: unknown[] } } | null;
  return error?.name === "ReplyError" && error.command?.name === "select" ? Number(error.command.args?.[0]) : undefined;
}
