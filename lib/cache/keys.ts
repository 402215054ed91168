/** A caller's key, checked, with the Redis key it is stored under and the names it goes by in maps and messages. */
import { CacheArgumentError } from "../errors.js";
import type { CacheKey } from "./store.js";

/**
 * A class, not an object literal: V8 may pretenure a literal's allocation
 * site once a burst of writes (a warm-up of set()) keeps thousands alive,
 * and from then on every getOrSet's key would be born in the old generation
 * and keep its young `full` string alive through scavenges (promoted bytes
 * on every hit; docs/benchmarks.md, "The garbage-collector mode"). `new`
 * of a class carries no allocation site.
 */
export class EntryKey {
  constructor(
    /**
     * For this cache's in-process maps (single flight): a string key as it is
     * (the caller's own string, often hashed already: the hit path looks it up
     * on every read), a Buffer key as "\n" and its bytes in hex.
     */
    readonly id: string,
    /** The Redis key: `${namespace}:${key}`, a hash tag in the key still deciding its shard. */
    readonly full: CacheKey,
    /** The key as the caller gave it, for loaders, events and errors. */
    readonly display: string,
  ) {}
}

const NEWLINE = 10;

/** The entry for `key` in the namespace whose keys start with `prefix` ("namespace:"). */
export function entryKey(prefix: string, key: unknown): EntryKey {
  if (typeof key === "string") {
    // A string key that starts with a newline takes the Buffer form of its bytes, so no string key's id is a Buffer key's.
    const id = key.charCodeAt(0) === NEWLINE ? `\n${Buffer.from(key).toString("hex")}` : key;
    return new EntryKey(id, prefix + key, key);
  }
  if (Buffer.isBuffer(key)) {
    const hex = key.toString("hex");
    return new EntryKey(`\n${hex}`, Buffer.concat([Buffer.from(prefix), key]), `<Buffer ${hex}>`);
  }
  const got = key === null ? "null" : Array.isArray(key) ? "an array" : typeof key;
  throw new CacheArgumentError(prefix.slice(0, -1), `a key must be a string or a Buffer (got ${got})`);
}
