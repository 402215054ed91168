/** The cache layer's commands, run through the client's executor (routing, deadlines, breakers, metrics as any command). */
import type { CacheStore } from "../cache/store.js";
import { type Carried, CarriedFailure, CarriedRead } from "../commands/command.js";
import type { Executor } from "../exec/Executor.js";
import { isNoPermission } from "../connection/aclRefusals.js";
import { prefixKey } from "../commands/keyPrefix.js";

export function cacheStore(executor: Executor): CacheStore {
  // Fixed for the client's life (its near cache and what it keeps): decided once, not on every read.
  const throughNear = executor.nearCaches("get");
  return {
    get: (key) => executor.run("get", [key], null) as Promise<Buffer | null>,
    read: <C extends Carried>(key: Buffer | string, carried: C): Promise<C> => {
      // The near cache keeps GET replies: through it, as any GET (a reply served from memory is a hit too).
      if (throughNear) return carry(executor.run("get", [key], null), carried);
      const cmd = new CarriedRead(key, carried);
      const sent = executor.runBuilt(cmd, null);
      // Sent to a node as it is: the command's promise settles with `carried` (or fails with a CarriedFailure) already.
      return sent === cmd.promise ? (sent as Promise<C>) : carry(sent, carried);
    },
    mget: (keys) => executor.run("mget", [...keys], null) as Promise<Array<Buffer | null>>,
    set: async (key, value, ttlMs) => {
      await executor.run("set", [key, value, "PX", ttlMs], null);
    },
    del: (key) => executor.run("del", [key], "utf8") as Promise<number>,
    run: (script, key, args) => executor.runScript(script, [key, ...args], null).catch((error: unknown) => refusedScript(executor, key, error)),
  };
}

/**
 * A lock script the key's node refused (an ACL without +eval/+evalsha):
 * reported once per node, and thrown as a NoPermissionError, which the
 * cache's own events leave out (the cache answers from the loader).
 */
function refusedScript(executor: Executor, key: Buffer | string, error: unknown): never {
  const fleet = executor.fleet;
  const node = isNoPermission(error) ? fleet.registry.master(executor.strategy.shardIndexOf(prefixKey(key, executor.options.keyPrefix))) : undefined;
  throw node ? fleet.refusals.asError(node, "cacheScripts", error) : error;
}

/**
 * Another path's outcome in a CarriedRead's form: the reply of a GET sent
 * later or rebuilt (a shard not placed yet), a failure before any node
 * (closing, breaker open), or the carried read itself when it went out after all.
 */
function carry<C extends Carried>(sent: Promise<unknown>, carried: C): Promise<C> {
  return sent.then(
    (reply) => {
      if (reply !== carried) carried.raw = reply as Buffer | null;
      return carried;
    },
    (error: unknown) => {
      throw error instanceof CarriedFailure ? error : new CarriedFailure(carried, error as Error);
    },
  );
}
