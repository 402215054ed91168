/**
 * SCAN over a fleet, in ioredis's two forms. The cursor form, scan(cursor,
 * ...args), carries the shard and that shard's cursor in one number, so a
 * caller's loop from "0" back to "0" visits every shard once, one SCAN per
 * call (lib/scan/cursor.ts). The stream form reads shard after shard. SSCAN/HSCAN/ZSCAN have a key,
 * so their streams read the key's shard.
 */
import type { Readable } from "node:stream";
import type { RedisKey } from "ioredis";
import { popCallback, withCallback, type Callback, type Encoding } from "../commands/install.js";
import { InvalidArgumentError, ScanCursorStaleError } from "../errors.js";
import type { Executor } from "../exec/Executor.js";
import { scanStream, type ScanStreamOptions, type ShardScan } from "../scan/scanStream.js";
import { decodeCursor, encodeCursor, EPOCHS } from "../scan/cursor.js";
import { keyShardIndex } from "./targets.js";

export class Scans {
  constructor(private readonly executor: Executor) {}

  /**
   * One SCAN on the shard the cursor points at; resolves [next fleet-wide
   * cursor, keys]. A cursor from before a change of the placement in force
   * rejects with ScanCursorStaleError (docs/scaling.md).
   */
  async scan(args: unknown[], encoding: Encoding): Promise<[string, Array<string | Buffer>]> {
    const moves = this.executor.moves;
    const epoch = moves.scanEpoch();
    const live = this.executor.fleet.live();
    const [cursor, ...rest] = args;
    let at = decodeCursor(cursor ?? "0");
    if (!at.start && at.epoch !== epoch % EPOCHS) throw new ScanCursorStaleError();
    // A released shard (it keeps its index) is passed over, also when a cursor points at it from before.
    const after = (shard: number) => live.find((i) => i > shard);
    if (!live.includes(at.shard)) {
      const next = after(at.shard);
      if (next === undefined) return ["0", []];
      at = { ...at, shard: next, cursor: "0" };
    }
    const [next, found] = (await this.executor.runUnrouted(at.shard, "scan", [at.cursor, ...rest], encoding)) as [string | Buffer, Array<string | Buffer>];
    const keys = moves.scanned(at.shard, found, epoch);
    const nextCursor = String(next);
    if (nextCursor !== "0") return [encodeCursor(at.shard, nextCursor, epoch), keys];
    const following = after(at.shard);
    return [following !== undefined ? encodeCursor(following, "0", epoch) : "0", keys];
  }

  /** Every key of every shard, as arrays of keys. */
  stream(options: ScanStreamOptions, encoding: Encoding): Readable {
    const moves = this.executor.moves;
    // The shards and placement of now: a change of placement while it reads fails it (ScanCursorStaleError), as for a cursor.
    const epoch = moves.scanEpoch();
    const scanners = this.executor.fleet.live().map(
      (shard): ShardScan<string | Buffer> =>
        async (cursor, args) => {
          if (moves.scanEpoch() !== epoch) throw new ScanCursorStaleError();
          const [next, keys] = (await this.executor.runUnrouted(shard, "scan", [cursor, ...args], encoding)) as [string, Array<string | Buffer>];
          // During and after a migration a shard may hold keys it does not own: each key is scanned on its owner only.
          return [next, moves.scanned(shard, keys, epoch)];
        },
    );
    return scanStream(scanners, options);
  }

  /** SSCAN/HSCAN/ZSCAN of one key as a stream: arrays of members (with values or scores for HSCAN/ZSCAN). */
  keyed(command: "sscan" | "hscan" | "zscan", key: unknown, options: ScanStreamOptions, encoding: Encoding): Readable {
    if (typeof key !== "string" && !Buffer.isBuffer(key)) throw new InvalidArgumentError(`${command}Stream(key) needs a string or Buffer key`);
    if (options.type !== undefined) throw new InvalidArgumentError(`${command}Stream has no type option (only scanStream does)`);
    if (options.dedupe && command !== "sscan") throw new InvalidArgumentError(`${command}Stream cannot dedupe: its items come in pairs`);
    // Its cursor belongs to one server's table: the key's owner in force changing midway (a migration's switch, a
    // reconfigure()) fails the stream (ScanCursorStaleError) rather than going on on another server, skipping members.
    // (Over a cluster a slot's owner is followed by redirections, and its map may not be known yet: not checked.)
    const cluster = this.executor.options.cluster !== undefined;
    const owner = () => (cluster ? 0 : (this.executor.moves.tick(), keyShardIndex(key, this.executor)));
    const first = owner();
    const scanner: ShardScan<string | Buffer> = async (cursor, args) => {
      if (owner() !== first) throw new ScanCursorStaleError();
      const reply = (await this.executor.run(command, [key, cursor, ...args], encoding)) as [string, Array<string | Buffer>];
      if (owner() !== first) throw new ScanCursorStaleError();
      return reply;
    };
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
