/**
 * The fleet-wide SCAN cursor of ioredis's cursor form (client.scan): one
 * decimal number carrying the shard's index, that shard's own cursor, and
 * the epoch of the placement in force when the scan ran (which shards own
 * which keys). Shards are named by index, which never changes nor is given to
 * another shard, so a cursor survives shards being added; the epoch lets a
 * cursor from before a change of placement be refused (ScanCursorStaleError)
 * rather than skip or repeat keys that changed owner.
 */
import { InvalidArgumentError } from "../errors.js";

const CURSOR_RE = /^\d{1,40}$/;
/** Shard indexes are below this (the placement tables hold them as 16-bit numbers). */
const SHARDS = 65536n;
/** The epoch is kept modulo this: a cursor kept across 256 changes of placement would be taken as current. */
export const EPOCHS = 256;

export interface ScanCursor {
  /** "0": a new scan (any epoch). */
  readonly start: boolean;
  readonly shard: number;
  /** The shard's own SCAN cursor. */
  readonly cursor: string;
  /** The placement epoch it was made in, modulo EPOCHS. */
  readonly epoch: number;
}

/** (cursor * SHARDS + shard) * EPOCHS + epoch: "0" only for the start (shard 0's cursor 0 is never handed back: its scan goes on to a later shard). */
export function encodeCursor(shard: number, cursor: string, epoch: number): string {
  return ((BigInt(cursor) * SHARDS + BigInt(shard)) * BigInt(EPOCHS) + BigInt(epoch % EPOCHS)).toString();
}

export function decodeCursor(value: unknown): ScanCursor {
  const text = Buffer.isBuffer(value) ? value.toString() : String(value);
  if ((typeof value !== "string" && typeof value !== "number" && !Buffer.isBuffer(value)) || !CURSOR_RE.test(text)) {
    throw new InvalidArgumentError(`SCAN cursor must be "0" or a cursor SCAN returned (got ${JSON.stringify(text)})`);
  }
  const whole = BigInt(text);
  const epoch = Number(whole % BigInt(EPOCHS));
  const rest = whole / BigInt(EPOCHS);
  return { start: whole === 0n, shard: Number(rest % SHARDS), cursor: (rest / SHARDS).toString(), epoch };
}
