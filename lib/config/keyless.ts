/**
 * Validation of the `keyless` option: the shard that takes commands with no
 * key to route by (FLUSHDB, KEYS, RANDOMKEY, scripts without keys), as
 * ioredis's single connection does. Without it, a client of one shard sends
 * them to that shard (the router decides: over a cluster the shards are
 * known later), and a larger fleet refuses them with KeylessCommandError.
 */
import { describe } from "./address.js";
import { isPlainObject, unknownKeys } from "./checks.js";
import type { ResolvedShard } from "./shards.js";

/** The chosen shard's name, or undefined (one shard: that one; more: refused). */
export function resolveKeyless(value: unknown, shards: readonly ResolvedShard[], problems: string[]): string | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value) || typeof value.shard !== "string") {
    problems.push(`keyless must be { shard: name } (got ${describe(value)})`);
    return undefined;
  }
  unknownKeys(value, ["shard"], "option in keyless", problems);
  // A cluster's shards are named after node ids found later: a name not among them then refuses as before.
  if (shards.length > 0 && !shards.some((s) => s.name === value.shard)) {
    problems.push(`keyless.shard ${JSON.stringify(value.shard)} is not one of the shards (${shards.map((s) => s.name).join(", ")})`);
  }
  return value.shard;
}
