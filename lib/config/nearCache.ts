/** Validation and defaults of the `nearCache` option. */
import { describe } from "./address.js";
import { intRange, isPlainObject, oneOf, unknownKeys } from "./checks.js";
import { DEFAULTS } from "./defaults.js";

export interface ResolvedNearCache {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly ttlMs: number;
  readonly mode: "default" | "broadcast";
  /** Broadcast mode: the key prefixes Redis reports changes for (all keys when empty). */
  readonly prefixes: readonly string[];
  readonly commands: ReadonlySet<string>;
  /** Cache only keys the hot-key detector ranks in their shard's top-k. */
  readonly hotOnly: boolean;
}

const FIELDS = ["maxEntries", "maxBytes", "ttlMs", "mode", "prefixes", "commands", "hotOnly"];

/**
 * Read commands of exactly one key (at a fixed position) whose reply
 * depends on that key alone: what tracking can keep correct. And MGET,
 * answered key by key from GET's entries.
 */
export const NEAR_CACHEABLE: ReadonlySet<string> = new Set([
  "get", "mget", "getrange", "strlen", "exists", "type",
  "hget", "hgetall", "hmget", "hexists", "hlen", "hkeys", "hvals", "hstrlen",
  "smembers", "sismember", "smismember", "scard",
  "llen", "lrange", "lindex",
  "zscore", "zcard", "zrange", "zrank", "zrevrank", "zcount", "zmscore",
]);

/** undefined when the near cache is off (the default). */
export function resolveNearCache(value: unknown, protocol: unknown, detector: boolean, problems: string[]): ResolvedNearCache | undefined {
  if (value === undefined || value === false) return undefined;
  if (!isPlainObject(value)) {
    problems.push(`nearCache must be an object { maxEntries?, maxBytes?, ttlMs?, mode?, prefixes?, commands?, hotOnly? } (got ${describe(value)})`);
    return undefined;
  }
  unknownKeys(value, FIELDS, "option in nearCache", problems);
  const defaults = DEFAULTS.nearCache;
  const check = (field: string, v: unknown, min: number, max: number) => {
    const problem = intRange(min, max)(v);
    if (problem) problems.push(`nearCache.${field} ${problem}`);
  };
  const maxEntries = value.maxEntries ?? defaults.maxEntries;
  check("maxEntries", maxEntries, 1, 10_000_000);
  const maxBytes = value.maxBytes ?? defaults.maxBytes;
  check("maxBytes", maxBytes, 1024, 2 ** 40);
  const ttlMs = value.ttlMs ?? defaults.ttlMs;
  check("ttlMs", ttlMs, 1, 86_400_000);
  const mode = value.mode ?? defaults.mode;
  const modeProblem = oneOf("default", "broadcast")(mode);
  if (modeProblem) problems.push(`nearCache.mode ${modeProblem}`);
  const prefixes = value.prefixes ?? [];
  if (!Array.isArray(prefixes) || !prefixes.every((p) => typeof p === "string" && p.length > 0) || prefixes.length > 100) {
    problems.push(`nearCache.prefixes must be up to 100 non-empty strings (got ${describe(prefixes)})`);
  } else if (prefixes.length && mode !== "broadcast") {
    problems.push("nearCache.prefixes apply to mode \"broadcast\" only: in the default mode Redis reports the keys this client read");
  }
  const commands = value.commands ?? defaults.commands;
  if (!Array.isArray(commands) || commands.length === 0) {
    problems.push(`nearCache.commands must be a non-empty array of read command names (got ${describe(commands)})`);
  } else {
    for (const name of commands) {
      if (typeof name !== "string" || !NEAR_CACHEABLE.has(name.toLowerCase())) {
        problems.push(`nearCache.commands: ${describe(name)} is not a cacheable read command (one of ${[...NEAR_CACHEABLE].join(", ")})`);
      }
    }
  }
  const hotOnly = value.hotOnly ?? defaults.hotOnly;
  if (typeof hotOnly !== "boolean") problems.push(`nearCache.hotOnly must be true or false (got ${describe(hotOnly)})`);
  else if (hotOnly && !detector) problems.push("nearCache.hotOnly needs the hot-key detector to rank keys: remove hotKeys: false");
  // Invalidations arrive as RESP3 push messages on the connection that read the keys.
  if (protocol === 2) problems.push("nearCache needs RESP3 connections (Redis 6 or later): remove redis.protocol: 2");
  return Object.freeze({
    maxEntries: maxEntries as number,
    maxBytes: maxBytes as number,
    ttlMs: ttlMs as number,
    mode: mode as "default" | "broadcast",
    prefixes: Object.freeze([...(Array.isArray(prefixes) ? (prefixes as string[]) : [])]),
    commands: new Set(Array.isArray(commands) ? commands.map((c) => String(c).toLowerCase()) : []),
    hotOnly: hotOnly === true,
  });
}
