/**
 * RESP3 invalidation messages, which ioredis decodes and then drops (its
 * DataHandler only routes pub/sub pushes). Installed once per process: the
 * DataHandler's push handler gains one case, `invalidate`, re-emitted on
 * the connection as an "invalidate" event with the keys (null: everything,
 * as after FLUSHALL), on shardis's own connections only (`ownConnection`):
 * the application's other ioredis clients, which share the prototype, see
 * every push as ioredis handles it. Other pushes are untouched.
 */
import { createRequire } from "node:module";

type PushHandler = (this: { redis: { emit(event: string, ...args: unknown[]): boolean } }, reply: unknown) => void;

let installed: boolean | undefined;

/** The ioredis instances shardis made (weakly held): the only ones whose invalidation pushes are re-emitted. */
const own = new WeakSet<object>();

/** Marks an ioredis instance as shardis's own, before it connects. */
export function ownConnection(redis: object): void {
  own.add(redis);
}

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
      if (own.has(this.redis) && Array.isArray(reply) && reply.length >= 2 && String(reply[0]) === "invalidate") {
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
