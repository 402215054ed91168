/** A caller's key, checked, with the Redis key it is stored under and the names it goes by in maps and messages. */
import { CacheArgumentError } from "../errors.js";
import type { CacheKey } from "./store.js";

export interface EntryKey {
  /** For in-process maps (single flight): strings as they are, Buffers by their bytes. */
  readonly id: string;
  /** The Redis key: `${namespace}:${key}`, a hash tag in the key still deciding its shard. */
  readonly full: CacheKey;
  /** The key as the caller gave it, for loaders, events and errors. */
  readonly display: string;
}

export function entryKey(namespace: string, key: unknown): EntryKey {
  if (typeof key === "string") {
    const full = `${namespace}:${key}`;
    return { id: full, full, display: key };
  }
  if (Buffer.isBuffer(key)) {
    const hex = key.toString("hex");
    // A namespace has no whitespace, so no string key's id starts with a newline.
    return { id: `\n${hex}`, full: Buffer.concat([Buffer.from(`${namespace}:`), key]), display: `<Buffer ${hex}>` };
  }
  const got = key === null ? "null" : Array.isArray(key) ? "an array" : typeof key;
  throw new CacheArgumentError(namespace, `a key must be a string or a Buffer (got ${got})`);
}
