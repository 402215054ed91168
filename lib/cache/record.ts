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
 * j: JSON payload; s: a string, as its UTF-8 text (no JSON quoting to parse
 * on every hit); b: Buffer, as is; c: the cache's own serializer; n: "not
 * found" (no payload); l: a lock alone, nothing loaded yet; e: a failed
 * load (the payload is its message; lockToken names the load).
 */
export type RecordKind = "j" | "s" | "b" | "c" | "n" | "l" | "e";

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
const KINDS = new Set<string>(["j", "s", "b", "c", "n", "l", "e"]);
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
/** The kind for each byte that may name one, else undefined: no string is made to check it. */
const KIND_OF: ReadonlyArray<RecordKind | undefined> = (() => {
  const table: Array<RecordKind | undefined> = new Array(128).fill(undefined);
  for (const kind of KINDS) table[kind.charCodeAt(0)] = kind as RecordKind;
  return table;
})();
/** Longest lock token read (the scripts write 16 base64url characters). */
const MAX_TOKEN = 64;

/**
 * The last header read by readHeader: valid until the next call. The hit
 * path reads a value's header through it, allocating nothing.
 */
export const header: {
  kind: RecordKind;
  expiresAt: number;
  staleUntil: number;
  loadMs: number;
  lockToken: string;
  lockUntil: number;
  payloadStart: number;
} = { kind: "j", expiresAt: 0, staleUntil: 0, loadMs: 0, lockToken: "", lockUntil: 0, payloadStart: 0 };

/**
 * Reads a stored value's header into `header`; false for anything that is
 * not a record (a corrupt or foreign value). Byte by byte: it runs on every
 * hit.
 */
export function readHeader(raw: Buffer): boolean {
  if (raw.length < 6 || raw[0] !== MAGIC_BYTES[0] || raw[1] !== MAGIC_BYTES[1] || raw[2] !== MAGIC_BYTES[2] || raw[3] !== BAR) return false;
  const kind = KIND_OF[raw[4]!];
  if (kind === undefined || raw[5] !== BAR) return false;
  // expiresAt, staleUntil, loadMs: non-negative integers, each ended by "|" (at most 15 digits: exact in a double).
  const expiresAt = readNumber(raw, 6, BAR);
  if (expiresAt < 0) return false;
  const staleUntil = readNumber(raw, end, BAR);
  if (staleUntil < 0) return false;
  const loadMs = readNumber(raw, end, BAR);
  if (loadMs < 0) return false;
  // lockToken up to "|" (often empty), then lockUntil up to the newline.
  const tokenStart = end;
  let i = tokenStart;
  while (i < raw.length && raw[i] !== BAR) {
    if (i - tokenStart >= MAX_TOKEN) return false;
    i++;
  }
  if (i >= raw.length) return false;
  const lockUntil = readNumber(raw, i + 1, NEWLINE);
  if (lockUntil < 0 || end - 1 > MAX_HEADER) return false;
  header.kind = kind;
  header.expiresAt = expiresAt;
  header.staleUntil = staleUntil;
  header.loadMs = loadMs;
  header.lockToken = i === tokenStart ? "" : raw.toString("latin1", tokenStart, i);
  header.lockUntil = lockUntil;
  header.payloadStart = end;
  return true;
}

/** The record in a stored value; undefined for anything that is not one. */
export function decodeRecord(raw: Buffer): CacheRecord | undefined {
  return readHeader(raw) ? lastRecord(raw) : undefined;
}

/** The record whose header readHeader just read from `raw`, as an object that outlives the next read. */
export function lastRecord(raw: Buffer): CacheRecord {
  const { kind, expiresAt, staleUntil, loadMs, lockToken, lockUntil, payloadStart } = header;
  return { kind, expiresAt, staleUntil, loadMs, lockToken, lockUntil, raw, payloadStart };
}

/** Where the last readNumber stopped: just past its terminator. A module variable, so reading a number allocates nothing. */
let end = 0;

/** The decimal digits from `from` up to `terminator` (1 to 15 of them), or -1; sets `end` past the terminator. */
function readNumber(raw: Buffer, from: number, terminator: number): number {
  let n = 0;
  let i = from;
  for (;;) {
    const c = raw[i];
    if (c === terminator) break;
    if (c === undefined || c < ZERO || c > ZERO + 9 || i - from >= 15) return -1;
    n = n * 10 + (c - ZERO);
    i++;
  }
  if (i === from) return -1;
  end = i + 1;
  return n;
}
