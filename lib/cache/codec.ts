/**
 * Values to records and back: Buffers stored as they are, strings as their
 * text when no serializer is given, everything else through the cache's
 * serializer (JSON unless one is given); "not found" (undefined) as a record
 * without payload.
 */
import type { CacheSerializer } from "../config/cache.js";
import { CacheSerializationError } from "../errors.js";
import { encodeRecord, type CacheRecord, type RecordKind } from "./record.js";

/** A payload that did not decode: the entry is treated as a miss and overwritten. */
export const CORRUPT: unique symbol = Symbol("corrupt");

export class ValueCodec<T> {
  constructor(
    private readonly namespace: string,
    private readonly serializer: CacheSerializer<T> | undefined,
  ) {}

  /** The record for a value fresh until expiresAt and servable until staleUntil. */
  encode(value: T | undefined, expiresAt: number, staleUntil: number, loadMs: number): Buffer {
    if (value === undefined) return encodeRecord("n", expiresAt, staleUntil, loadMs);
    if (Buffer.isBuffer(value)) return encodeRecord("b", expiresAt, staleUntil, loadMs, value);
    // A string needs no JSON: its text reads back as it is, without a parse on every hit.
    if (typeof value === "string" && !this.serializer) return encodeRecord("s", expiresAt, staleUntil, loadMs, value);
    let payload: string | Buffer | undefined;
    try {
      payload = this.serializer ? this.serializer.encode(value) : JSON.stringify(value);
    } catch (error) {
      throw new CacheSerializationError(this.namespace, error);
    }
    if (payload === undefined) throw new CacheSerializationError(this.namespace, new TypeError(`JSON has no form for a ${typeof value}`));
    return encodeRecord(this.serializer ? "c" : "j", expiresAt, staleUntil, loadMs, payload);
  }

  /** The value a record holds (undefined for "not found"), or CORRUPT when it does not decode here. */
  decode(record: CacheRecord): T | undefined | typeof CORRUPT {
    return this.decodePayload(record.kind, record.raw, record.payloadStart);
  }

  /** The value of a record of `kind` whose payload starts at `start` in `raw` (the hit path has no record object). */
  decodePayload(kind: RecordKind, raw: Buffer, start: number): T | undefined | typeof CORRUPT {
    try {
      switch (kind) {
        case "n":
          return undefined;
        case "b":
          return Buffer.from(raw.subarray(start)) as T;
        case "s":
          // Written without a serializer elsewhere: not what this cache's serializer would give, a corrupt entry here.
          return this.serializer ? CORRUPT : (raw.toString("utf8", start) as T);
        case "j":
          // Written with a serializer elsewhere is not JSON here: a corrupt entry, not a crash.
          return this.serializer ? CORRUPT : (JSON.parse(raw.toString("utf8", start)) as T);
        case "c":
          return this.serializer ? this.serializer.decode(raw.subarray(start)) : CORRUPT;
        default:
          return CORRUPT;
      }
    } catch {
      return CORRUPT;
    }
  }
}
