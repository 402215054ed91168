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
  readonly payload: Buffer;
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

/** The record in a stored value; undefined for anything that is not one (a corrupt or foreign value). */
export function decodeRecord(raw: Buffer): CacheRecord | undefined {
  if (raw.length < 5 || raw.toString("latin1", 0, 4) !== MAGIC) return undefined;
  const end = raw.indexOf(NEWLINE, 4);
  if (end === -1 || end > MAX_HEADER) return undefined;
  const fields = raw.toString("latin1", 4, end).split("|");
  if (fields.length !== 6 || !KINDS.has(fields[0]!)) return undefined;
  const [kind, expiresAt, staleUntil, loadMs, lockToken, lockUntil] = fields as [RecordKind, string, string, string, string, string];
  const numbers = [Number(expiresAt), Number(staleUntil), Number(loadMs), Number(lockUntil)];
  if (numbers.some((n) => !Number.isFinite(n))) return undefined;
  return {
    kind,
    expiresAt: numbers[0]!,
    staleUntil: numbers[1]!,
    loadMs: numbers[2]!,
    lockToken,
    lockUntil: numbers[3]!,
    payload: raw.subarray(end + 1),
  };
}
