/**
 * How a cache entry is stored: one Redis string per key, a one-line text
 * header, then the payload.
 *
 *   SC1|<kind>|<expiresAt>|<staleUntil>|<loadMs>|<lockToken>|<lockUntil>\n<payload>
 *
 * One key holds the value and its rebuild lock, so a hit is one GET, many
 * keys are one MGET per shard, and the lock lives wherever the key does
 * (any sharding, a cluster slot) without a second key to co-locate. The
 * header is text so the Lua scripts can read and rewrite it.
 *
 * expiresAt and staleUntil are the writer's wall clock (ms); lockUntil is
 * the Redis server's (only the scripts compare it).
 */

/**
 * j: JSON payload; b: Buffer, as is; c: the cache's own serializer; n: "not
 * found" (no payload); l: a lock alone, nothing loaded yet; e: a failed
 * load (the payload is its message; lockToken names the load).
 */
export type RecordKind = "j" | "b" | "c" | "n" | "l" | "e";

export interface CacheRecord {
  readonly kind: RecordKind;
  readonly expiresAt: number;
  readonly staleUntil: number;
  /** How long the load that produced it took, in ms (XFetch's delta). */
  readonly loadMs: number;
  /** The rebuild lock's holder, "" when none (for "e": the failed load's token). */
  readonly lockToken: string;
  readonly lockUntil: number;
  /** The stored value the record was read from, and where its payload starts in it. */
  readonly raw: Buffer;
  readonly payloadStart: number;
}

/** The payload's bytes (a view of the stored value, not a copy). */
export function payloadOf(record: CacheRecord): Buffer {
  return record.raw.subarray(record.payloadStart);
}

/** The payload as UTF-8 text, without an intermediate Buffer (the hit path's JSON). */
export function payloadText(record: CacheRecord): string {
  return record.raw.toString("utf8", record.payloadStart);
}

const MAGIC = "SC1|";
const KINDS = new Set<string>(["j", "b", "c", "n", "l", "e"]);
const NEWLINE = 0x0a;
/** A header is short: bounds the scan for its end in a corrupt value. */
const MAX_HEADER = 256;

/** Whether the record holds a value (fresh, stale, or "not found"), as opposed to a lock or a failed load. */
export function holdsValue(record: CacheRecord): boolean {
  return record.kind !== "l" && record.kind !== "e";
}

export function encodeRecord(kind: RecordKind, expiresAt: number, staleUntil: number, loadMs: number, payload: Buffer | string = ""): Buffer {
  const head = `${MAGIC}${kind}|${Math.round(expiresAt)}|${Math.round(staleUntil)}|${Math.round(loadMs)}||0\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), typeof payload === "string" ? Buffer.from(payload, "utf8") : payload]);
}

const BAR = 0x7c;
const ZERO = 0x30;
const MAGIC_BYTES = [0x53, 0x43, 0x31, BAR]; // "SC1|"

/**
 * The record in a stored value; undefined for anything that is not one (a
 * corrupt or foreign value). Read byte by byte: it runs on every hit.
 */
export function decodeRecord(raw: Buffer): CacheRecord | undefined {
  if (raw.length < 6 || raw[0] !== MAGIC_BYTES[0] || raw[1] !== MAGIC_BYTES[1] || raw[2] !== MAGIC_BYTES[2] || raw[3] !== BAR) return undefined;
  const kind = String.fromCharCode(raw[4]!);
  if (!KINDS.has(kind) || raw[5] !== BAR) return undefined;
  let i = 6;
  // expiresAt, staleUntil, loadMs: non-negative integers, each ended by "|".
  const numbers = [0, 0, 0];
  for (let f = 0; f < 3; f++) {
    const from = i;
    let n = 0;
    for (let c = raw[i]; c !== BAR; c = raw[i]) {
      if (c === undefined || c < ZERO || c > ZERO + 9 || i - from > 15) return undefined;
      n = n * 10 + (c - ZERO);
      i++;
    }
    if (i === from) return undefined;
    numbers[f] = n;
    i++;
  }
  // lockToken up to "|", then lockUntil up to the newline.
  const tokenEnd = raw.indexOf(BAR, i);
  if (tokenEnd === -1 || tokenEnd - i > 64) return undefined;
  const lockToken = tokenEnd === i ? "" : raw.toString("latin1", i, tokenEnd);
  i = tokenEnd + 1;
  const from = i;
  let lockUntil = 0;
  for (let c = raw[i]; c !== NEWLINE; c = raw[i]) {
    if (c === undefined || c < ZERO || c > ZERO + 9 || i - from > 15) return undefined;
    lockUntil = lockUntil * 10 + (c - ZERO);
    i++;
  }
  if (i === from || i > MAX_HEADER) return undefined;
  return {
    kind: kind as RecordKind,
    expiresAt: numbers[0]!,
    staleUntil: numbers[1]!,
    loadMs: numbers[2]!,
    lockToken,
    lockUntil,
    raw,
    payloadStart: i + 1,
  };
}
