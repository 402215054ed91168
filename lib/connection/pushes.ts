/**
 * RESP3 invalidation messages, which ioredis decodes and then drops (its
 * DataHandler only routes pub/sub pushes). Installed once per process: the
 * DataHandler's push handler gains one case, `invalidate`, re-emitted on
 * the connection as an "invalidate" event with the keys (null: everything,
 * as after FLUSHALL). Other pushes, and connections that never turned
 * tracking on (they receive no such message), are untouched.
 */
import { createRequire } from "node:module";

type PushHandler = (this: { redis: { emit(event: string, ...args: unknown[]): boolean } }, reply: unknown) => void;

let installed: boolean | undefined;

/** Installs the hook; false when this ioredis has no DataHandler to hook (then the near cache cannot start). */
export function installInvalidationPushes(): boolean {
  if (installed !== undefined) return installed;
  try {
    const require = createRequire(import.meta.url);
    const module = require("ioredis/built/DataHandler") as { default?: { prototype: { returnPush?: PushHandler } } };
    const prototype = module.default?.prototype;
    const original = prototype?.returnPush;
    if (!prototype || typeof original !== "function") return (installed = false);
    prototype.returnPush = function (reply) {
      if (Array.isArray(reply) && reply.length >= 2 && String(reply[0]) === "invalidate") {
        this.redis.emit("invalidate", reply[1]);
        return;
      }
      original.call(this, reply);
    };
    return (installed = true);
  } catch {
    return (installed = false);
  }
}
