/**
 * SCAN over a fleet, in ioredis's two forms. The cursor form, scan(cursor,
 * ...args), carries the shard and that shard's cursor in one number, so a
 * caller's loop from "0" back to "0" visits every shard once, one SCAN per
 * call. The stream form reads shard after shard. SSCAN/HSCAN/ZSCAN have a key,
 * so their streams read the key's shard.
 */
import type { Readable } from "node:stream";
import type { Encoding } from "../commands/install.js";
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
    const [cursor, ...rest] = args;
    const at = decodeCursor(cursor ?? "0", shards);
    const [next, keys] = (await this.executor.runUnrouted(at.shard, "scan", [at.cursor, ...rest], encoding)) as [string | Buffer, Array<string | Buffer>];
    const nextCursor = String(next);
    if (nextCursor !== "0") return [encodeCursor(at.shard, nextCursor, shards), keys];
    return [at.shard + 1 < shards ? encodeCursor(at.shard + 1, "0", shards) : "0", keys];
  }

  /** Every key of every shard, as arrays of keys. */
  stream(options: ScanStreamOptions, encoding: Encoding): Readable {
    const scanners = this.executor.shardNames.map(
      (_, shard): ShardScan<string | Buffer> =>
        (cursor, args) => this.executor.runUnrouted(shard, "scan", [cursor, ...args], encoding) as Promise<[string, Array<string | Buffer>]>,
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
