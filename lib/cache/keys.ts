/** A caller's key, checked, with the Redis key it is stored under and the names it goes by in maps and messages. */
import { CacheArgumentError } from "../errors.js";
import type { CacheKey } from "./store.js";

export interface EntryKey {
  /**
   * For this cache's in-process maps (single flight): a string key as it is
   * (the caller's own string, often hashed already: the hit path looks it up
   * on every read), a Buffer key as "\n" and its bytes in hex.
   */
  readonly id: string;
  /** The Redis key: `${namespace}:${key}`, a hash tag in the key still deciding its shard. */
  readonly full: CacheKey;
  /** The key as the caller gave it, for loaders, events and errors. */
  readonly display: string;
}

const NEWLINE = 10;

/** The entry for `key` in the namespace whose keys start with `prefix` ("namespace:"). */
export function entryKey(prefix: string, key: unknown): EntryKey {
  if (typeof key === "string") {
    // A string key that starts with a newline takes the Buffer form of its bytes, so no string key's id is a Buffer key's.
    const id = key.charCodeAt(0) === NEWLINE ? `\n${Buffer.from(key).toString("hex")}` : key;
    return { id, full: prefix + key, display: key };
  }
  if (Buffer.isBuffer(key)) {
    const hex = key.toString("hex");
    return { id: `\n${hex}`, full: Buffer.concat([Buffer.from(prefix), key]), display: `<Buffer ${hex}>` };
  }
  const got = key === null ? "null" : Array.isArray(key) ? "an array" : typeof key;
  throw new CacheArgumentError(prefix.slice(0, -1), `a key must be a string or a Buffer (got ${got})`);
}
