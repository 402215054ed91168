/**
 * Which errors a caller may see: a ShardisError (its code starts with
 * ERR_SHARDIS_, and so do the per-shard failures inside a
 * PartialFailureError), a reply Redis itself sends that shardis passes on
 * (docs/errors.md; also the ACL's refusal of a command inside a script),
 * or a cache loader's own error handed back by getOrSet.
 * Anything else (a raw MOVED, "EXEC without MULTI", an ioredis internal
 * error, a TypeError) is a violation.
 */
import type { RecordedError } from "../history.js";

/** Replies of the server that reach callers as they are: refusals and states of the node, not of shardis. */
export const PASSED_THROUGH = new Set(["OOM", "LOADING", "READONLY", "EXECABORT", "NOPERM", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "BUSY", "NOREPLICAS"]);

const SCRIPT_REFUSED = /^ERR The user executing the script can't run this command/;

export function untyped(error: RecordedError, op: string): string | undefined {
  if (error.code?.startsWith("ERR_SHARDIS_")) {
    for (const failure of error.failures ?? []) {
      const inner = untyped(failure, op);
      if (inner) return `inside ${error.name}: ${inner}`;
    }
    return undefined;
  }
  if (error.name === "ReplyError" && error.code && PASSED_THROUGH.has(error.code)) return undefined;
  // The ACL refusing a command a script calls: Redis 7 says so with ERR, not NOPERM.
  if (op === "script" && error.name === "ReplyError" && SCRIPT_REFUSED.test(error.message)) return undefined;
  if (op === "cache" && error.name === "ChaosLoaderError") return undefined;
  return `${error.name}${error.code ? ` ${error.code}` : ""}: ${error.message.slice(0, 120)}`;
}

/** How an error is counted in the report: its code, or ReplyError and Redis's prefix. */
export function errorType(error: RecordedError): string {
  if (error.code?.startsWith("ERR_SHARDIS_")) return `${error.name} (${error.code})`;
  return error.code ? `${error.name} ${error.code}` : error.name;
}
