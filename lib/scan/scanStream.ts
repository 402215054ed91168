/**
 * A Readable (object mode) of key arrays: SCAN over each shard in turn, to
 * the end of its keyspace, like ioredis's scanStream over one node.
 */
import { Readable } from "node:stream";
import { InvalidArgumentError } from "../errors.js";

export interface ScanStreamOptions {
  /** MATCH pattern. */
  match?: string;
  /** COUNT hint per SCAN call. @default the server's (10) */
  count?: number;
  /** TYPE filter (string, list, set, zset, hash, stream). */
  type?: string;
  /**
   * Drop keys already yielded for a shard. SCAN may return a key twice when
   * the server resizes its table mid-scan; deduplicating costs memory in
   * proportion to the shard's keys. @default false
   */
  dedupe?: boolean;
}

/** One SCAN call on one shard: resolves [nextCursor, keys]. */
export type ShardScan<K> = (cursor: string, args: Array<string | number>) => Promise<[string, K[]]>;

export function scanStream<K extends string | Buffer>(shards: Array<ShardScan<K>>, options: ScanStreamOptions = {}): Readable {
  const args = scanArgs(options);
  return Readable.from(scanAll(shards, args, options.dedupe === true), { objectMode: true });
}

async function* scanAll<K extends string | Buffer>(shards: Array<ShardScan<K>>, args: Array<string | number>, dedupe: boolean) {
  for (const scan of shards) {
    const seen = dedupe ? new Set<string>() : undefined;
    let cursor = "0";
    do {
      const [next, keys] = await scan(cursor, args);
      cursor = String(next);
      const fresh = seen ? keys.filter((key) => firstSighting(seen, idOf(key))) : keys;
      if (fresh.length) yield fresh;
    } while (cursor !== "0");
  }
}

function firstSighting(seen: Set<string>, id: string): boolean {
  if (seen.has(id)) return false;
  seen.add(id);
  return true;
}

function idOf(key: string | Buffer): string {
  return typeof key === "string" ? key : `\0${key.toString("hex")}`;
}

function scanArgs(options: ScanStreamOptions): Array<string | number> {
  if (typeof options !== "object" || options === null) throw new InvalidArgumentError("scanStream options must be an object");
  const known = ["match", "count", "type", "dedupe"];
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new InvalidArgumentError(`unknown scanStream option '${key}'`);
  }
  const args: Array<string | number> = [];
  if (options.match !== undefined) {
    if (typeof options.match !== "string") throw new InvalidArgumentError("scanStream match must be a string");
    args.push("MATCH", options.match);
  }
  if (options.count !== undefined) {
    if (!Number.isInteger(options.count) || options.count < 1) throw new InvalidArgumentError("scanStream count must be an integer >= 1");
    args.push("COUNT", options.count);
  }
  if (options.type !== undefined) {
    if (typeof options.type !== "string") throw new InvalidArgumentError("scanStream type must be a string");
    args.push("TYPE", options.type);
  }
  return args;
}
