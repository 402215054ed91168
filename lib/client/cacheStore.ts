/** The cache layer's commands, run through the client's executor (routing, deadlines, breakers, metrics as any command). */
import type { CacheStore } from "../cache/store.js";
import type { Executor } from "../exec/Executor.js";

export function cacheStore(executor: Executor): CacheStore {
  return {
    get: (key) => executor.run("get", [key], null) as Promise<Buffer | null>,
    mget: (keys) => executor.run("mget", [...keys], null) as Promise<Array<Buffer | null>>,
    set: async (key, value, ttlMs) => {
      await executor.run("set", [key, value, "PX", ttlMs], null);
    },
    del: (key) => executor.run("del", [key], "utf8") as Promise<number>,
    run: (script, key, args) => executor.runScript(script, [key, ...args], null),
  };
}
