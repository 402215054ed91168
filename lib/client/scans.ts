/**
 * SCAN over a fleet, in ioredis's two forms. The cursor form, scan(cursor,
 * ...args), carries the shard and that shard's cursor in one number, so a
 * caller's loop from "0" back to "0" visits every shard once, one SCAN per
 * call. The stream form reads shard after shard. SSCAN/HSCAN/ZSCAN have a key,
 * so their streams read the key's shard.
 */
import type { Readable } from "node:stream";
import type { RedisKey } from "ioredis";
import { popCallback, withCallback, type Callback, type Encoding } from "../commands/install.js";
import { InvalidArgumentError } from "../errors.js";
import type { Executor } from "../exec/Executor.js";
import { scanStream, type ScanStreamOptions, type ShardScan } from "../scan/scanStream.js";

const CURSOR_RE = /^\d{1,40}$/;

/** The fleet-wide cursor for a shard's cursor: cursor * shards + shard ("0" on shard 0 is the start). */
export function encodeCursor(shard: number, cursor: string, shards: number): string {
  return (BigInt(cursor) * BigInt(shards) + BigInt(shard)).toString();
}

export function decodeCursor(value: unknown, shards: number): { shard: number; cursor: string } {
  const text = Buffer.isBuffer(value) ? value.toString() : String(value);
  if ((typeof value !== "string" && typeof value !== "number" && !Buffer.isBuffer(value)) || !CURSOR_RE.test(text)) {
    throw new InvalidArgumentError(`SCAN cursor must be "0" or a cursor SCAN returned (got ${JSON.stringify(text)})`);
  }
  const n = BigInt(shards);
  const whole = BigInt(text);
  return { shard: Number(whole % n), cursor: (whole / n).toString() };
}

export class Scans {
  constructor(private readonly executor: Executor) {}

  /** One SCAN on the shard the cursor points at; resolves [next fleet-wide cursor, keys]. */
  async scan(args: unknown[], encoding: Encoding): Promise<[string, Array<string | Buffer>]> {
    const shards = this.executor.shardNames.length;
    const live = this.executor.fleet.live();
    const [cursor, ...rest] = args;
    let at = decodeCursor(cursor ?? "0", shards);
    // A released shard (it keeps its index) is passed over, also when a cursor points at it from before.
    const after = (shard: number) => live.find((i) => i > shard);
    if (!live.includes(at.shard)) {
      const next = after(at.shard);
      if (next === undefined) return ["0", []];
      at = { shard: next, cursor: "0" };
    }
    const [next, found] = (await this.executor.runUnrouted(at.shard, "scan", [at.cursor, ...rest], encoding)) as [string | Buffer, Array<string | Buffer>];
    const keys = this.executor.moves.scanned(at.shard, found);
    const nextCursor = String(next);
    if (nextCursor !== "0") return [encodeCursor(at.shard, nextCursor, shards), keys];
    const following = after(at.shard);
    return [following !== undefined ? encodeCursor(following, "0", shards) : "0", keys];
  }

  /** Every key of every shard, as arrays of keys. */
  stream(options: ScanStreamOptions, encoding: Encoding): Readable {
    const scanners = this.executor.fleet.live().map(
      (shard): ShardScan<string | Buffer> =>
        async (cursor, args) => {
          const [next, keys] = (await this.executor.runUnrouted(shard, "scan", [cursor, ...args], encoding)) as [string, Array<string | Buffer>];
          // During and after a migration a shard may hold keys it does not own: each key is scanned on its owner only.
          return [next, this.executor.moves.scanned(shard, keys)];
        },
    );
    return scanStream(scanners, options);
  }

  /** SSCAN/HSCAN/ZSCAN of one key as a stream: arrays of members (with values or scores for HSCAN/ZSCAN). */
  keyed(command: "sscan" | "hscan" | "zscan", key: unknown, options: ScanStreamOptions, encoding: Encoding): Readable {
    if (typeof key !== "string" && !Buffer.isBuffer(key)) throw new InvalidArgumentError(`${command}Stream(key) needs a string or Buffer key`);
    if (options.type !== undefined) throw new InvalidArgumentError(`${command}Stream has no type option (only scanStream does)`);
    if (options.dedupe && command !== "sscan") throw new InvalidArgumentError(`${command}Stream cannot dedupe: its items come in pairs`);
    const scanner: ShardScan<string | Buffer> = (cursor, args) =>
      this.executor.run(command, [key, cursor, ...args], encoding) as Promise<[string, Array<string | Buffer>]>;
    return scanStream([scanner], options);
  }
}

/** Where a client keeps its Scans (a symbol: not part of its public surface). */
export const SCANS = Symbol("shardis.scans");

/** The scan methods of the client, in ioredis's names and forms. */
export interface ScanMethods {
  /**
   * SCAN across every shard, in ioredis's cursor form: start at "0", pass
   * back the cursor each call returns, stop when it is "0" again. The cursor
   * carries the shard, so the loop visits every shard once.
   */
  scan(cursor: number | string, ...args: Array<string | number | Callback>): Promise<[cursor: string, keys: string[]]>;
  scanBuffer(cursor: number | string, ...args: Array<string | number | Callback>): Promise<[cursor: Buffer, keys: Buffer[]]>;
  /** Every key of every shard, as arrays of keys (a Node Readable in object mode). */
  scanStream(options?: ScanStreamOptions): Readable;
  scanBufferStream(options?: ScanStreamOptions): Readable;
  /** SSCAN of one set, as arrays of members. */
  sscanStream(key: RedisKey, options?: ScanStreamOptions): Readable;
  sscanBufferStream(key: RedisKey, options?: ScanStreamOptions): Readable;
  /** HSCAN of one hash, as arrays of field, value, field, value, ... */
  hscanStream(key: RedisKey, options?: ScanStreamOptions): Readable;
  hscanBufferStream(key: RedisKey, options?: ScanStreamOptions): Readable;
  /** ZSCAN of one sorted set, as arrays of member, score, member, score, ... */
  zscanStream(key: RedisKey, options?: ScanStreamOptions): Readable;
  zscanBufferStream(key: RedisKey, options?: ScanStreamOptions): Readable;
}

/** Puts ScanMethods on a client class whose instances hold their Scans under SCANS (as installCommands does for commands). */
export function installScans(target: { prototype: object }): void {
  type Holder = { readonly [SCANS]: Scans };
  const methods: { [K in keyof ScanMethods]: (this: Holder, ...args: never[]) => unknown } = {
    scan(cursor: number | string, ...args: Array<string | number | Callback>) {
      const callback = popCallback(args);
      return withCallback(this[SCANS].scan([cursor, ...args], "utf8"), callback);
    },
    scanBuffer(cursor: number | string, ...args: Array<string | number | Callback>) {
      const callback = popCallback(args);
      return withCallback(this[SCANS].scan([cursor, ...args], null).then(([next, keys]) => [Buffer.from(next), keys]), callback);
    },
    scanStream(options: ScanStreamOptions = {}) {
      return this[SCANS].stream(options, "utf8");
    },
    scanBufferStream(options: ScanStreamOptions = {}) {
      return this[SCANS].stream(options, null);
    },
    sscanStream(key: RedisKey, options: ScanStreamOptions = {}) {
      return this[SCANS].keyed("sscan", key, options, "utf8");
    },
    sscanBufferStream(key: RedisKey, options: ScanStreamOptions = {}) {
      return this[SCANS].keyed("sscan", key, options, null);
    },
    hscanStream(key: RedisKey, options: ScanStreamOptions = {}) {
      return this[SCANS].keyed("hscan", key, options, "utf8");
    },
    hscanBufferStream(key: RedisKey, options: ScanStreamOptions = {}) {
      return this[SCANS].keyed("hscan", key, options, null);
    },
    zscanStream(key: RedisKey, options: ScanStreamOptions = {}) {
      return this[SCANS].keyed("zscan", key, options, "utf8");
    },
    zscanBufferStream(key: RedisKey, options: ScanStreamOptions = {}) {
      return this[SCANS].keyed("zscan", key, options, null);
    },
  };
  for (const [name, method] of Object.entries(methods)) {
    Object.defineProperty(target.prototype, name, { value: method, writable: true, configurable: true });
  }
}
