/**
 * The cache layer's pure parts: the stored record format, value encoding,
 * keys, option validation, TTL jitter and XFetch's early-refresh odds
 * (against the formula, with a seeded random source). The cache's behaviour
 * runs against real servers in test/integration/cache.test.ts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { turnClock } from "../../lib/cache/clock.js";
import { CORRUPT, ValueCodec } from "../../lib/cache/codec.js";
import { entryKey } from "../../lib/cache/keys.js";
import { decodeRecord, encodeRecord, holdsValue, lastRecord, payloadOf, readHeader } from "../../lib/cache/record.js";
import { jitteredTtl, refreshEarly } from "../../lib/cache/timing.js";
import { resolveCacheOptions } from "../../lib/config/cache.js";
import { CacheArgumentError, CacheSerializationError, ConfigError } from "../../lib/errors.js";

/** mulberry32: a small seeded generator, so the statistical checks are repeatable. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("cache records", () => {
  it("round-trip header and payload, binary payloads included", () => {
    const payload = Buffer.from([0, 10, 124, 255, 13, 10]);
    const record = decodeRecord(encodeRecord("b", 1_800_000_000_123, 1_800_000_060_123, 42.4, payload))!;
    expect(record).toMatchObject({ kind: "b", expiresAt: 1_800_000_000_123, staleUntil: 1_800_000_060_123, loadMs: 42, lockToken: "", lockUntil: 0 });
    expect(Buffer.compare(payloadOf(record), payload)).toBe(0);
    expect(holdsValue(record)).toBe(true);
  });

  it("keep the header just read as a record that outlives the next read (lastRecord)", () => {
    const first = encodeRecord("s", 1_800_000_000_000, 1_800_000_001_000, 7, "one");
    expect(readHeader(first)).toBe(true);
    const kept = lastRecord(first);
    expect(readHeader(encodeRecord("j", 5, 6, 0, "2"))).toBe(true);
    expect(kept).toEqual(decodeRecord(first));
    expect([kept.kind, kept.loadMs, payloadOf(kept).toString()]).toEqual(["s", 7, "one"]);
  });

  it("read a lock and a failed load as written by the Lua scripts", () => {
    const lock = decodeRecord(Buffer.from("SC1|l|0|0|0|tok123|1800000000500\n"))!;
    expect([lock.kind, lock.lockToken, lock.lockUntil, holdsValue(lock)]).toEqual(["l", "tok123", 1_800_000_000_500, false]);
    const failed = decodeRecord(Buffer.from("SC1|e|0|0|0|tok123|0\nboom"))!;
    expect([failed.kind, payloadOf(failed).toString()]).toEqual(["e", "boom"]);
  });

  it("refuse anything else: foreign values, truncated headers, unknown kinds, non-numbers", () => {
    for (const raw of ["hello", "SC1|", "SC1|j|1|2|3||0", "SC1|x|1|2|3||0\n{}", "SC1|j|a|2|3||0\n{}", "SC1|j|1|2|3|0\n{}", `SC1|j|1|2|3||${"9".repeat(300)}\n{}`]) {
      expect(decodeRecord(Buffer.from(raw)), raw).toBeUndefined();
    }
  });

  it("read back any header they wrote, and never throw on damaged ones (a damaged header reads as no record or as its own numbers)", () => {
    const digits = fc.integer({ min: 0, max: 999_999_999_999_999 });
    fc.assert(
      fc.property(fc.constantFrom("j", "s", "b", "c", "n"), digits, digits, digits, fc.uint8Array({ maxLength: 40 }), (kind, expiresAt, staleUntil, loadMs, payload) => {
        const raw = encodeRecord(kind as "j", expiresAt, staleUntil, loadMs, Buffer.from(payload));
        expect(decodeRecord(raw)).toMatchObject({ kind, expiresAt, staleUntil, loadMs, lockToken: "", lockUntil: 0, payloadStart: raw.indexOf(10) + 1 });
      }),
      { seed: 9, numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.nat({ max: 40 }), fc.integer({ min: 0, max: 255 }), fc.boolean(), (at, byte, cut) => {
        const raw = Buffer.from("SC1|j|1800000000123|1800000060123|42|tok|1800000000500\n\"v\"");
        const damaged = cut ? raw.subarray(0, at) : Buffer.from(raw);
        if (!cut) damaged[at] = byte;
        const record = decodeRecord(damaged);
        if (record) expect(Number.isSafeInteger(record.expiresAt) && Number.isSafeInteger(record.lockUntil)).toBe(true);
      }),
      { seed: 10, numRuns: 500 },
    );
  });
});

describe("cache values", () => {
  const json = new ValueCodec<unknown>("ns", undefined);

  it("store JSON, Buffers as they are, and not-found without payload", () => {
    const value = { a: [1, "two", null], b: { c: true } };
    expect(json.decode(decodeRecord(json.encode(value, 1, 2, 3))!)).toEqual(value);
    const bytes = Buffer.from([1, 2, 3, 0, 255]);
    const stored = decodeRecord(json.encode(bytes, 1, 2, 3))!;
    expect(stored.kind).toBe("b");
    expect(json.decode(stored)).toEqual(bytes);
    const missing = decodeRecord(json.encode(undefined, 1, 2, 3))!;
    expect([missing.kind, json.decode(missing)]).toEqual(["n", undefined]);
  });

  it("store strings as their text, whatever they look like, and read them back as they were", () => {
    for (const text of ["", "plain", '"quoted"', "{}", "null", "é ✓ 𝄞", "line\nbreak"]) {
      const stored = decodeRecord(json.encode(text, 1, 2, 3))!;
      expect([stored.kind, payloadOf(stored).toString("utf8")]).toEqual(["s", text]);
      expect(json.decode(stored)).toBe(text);
    }
    // A string inside another value is still JSON.
    expect(decodeRecord(json.encode(["a"], 1, 2, 3))!.kind).toBe("j");
  });

  it("refuse values JSON cannot hold, with a typed error", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const value of [10n, cyclic, () => 1, Symbol("s")]) expect(() => json.encode(value, 1, 2, 3)).toThrow(CacheSerializationError);
  });

  it("use a custom serializer both ways, and call payloads it cannot read corrupt", () => {
    const upper = new ValueCodec<string>("ns", { encode: (v) => v.toUpperCase(), decode: (b) => b.toString().toLowerCase() });
    const stored = decodeRecord(upper.encode("hello", 1, 2, 3))!;
    expect([stored.kind, payloadOf(stored).toString(), upper.decode(stored)]).toEqual(["c", "HELLO", "hello"]);
    expect(upper.decode(decodeRecord(json.encode({ a: 1 }, 1, 2, 3))!)).toBe(CORRUPT);
    expect(upper.decode(decodeRecord(json.encode("text", 1, 2, 3))!)).toBe(CORRUPT);
    expect(json.decode(decodeRecord(Buffer.from("SC1|j|1|2|3||0\n{not json"))!)).toBe(CORRUPT);
  });
});

describe("cache keys", () => {
  it("prefix the namespace and keep hash tags deciding the shard", () => {
    expect(entryKey("users:", "{u42}:profile").full).toBe("users:{u42}:profile");
    const buffer = entryKey("users:", Buffer.from([0xff, 0x00]));
    expect(Buffer.compare(buffer.full as Buffer, Buffer.from([...Buffer.from("users:"), 0xff, 0x00]))).toBe(0);
    expect(buffer.id).not.toBe(entryKey("users:", "\xff\x00").id);
  });

  it("give distinct keys distinct ids, and a string its own text as id unless it could pass for a Buffer's", () => {
    expect(entryKey("users:", "42").id).toBe("42");
    // A string that starts with a newline takes its bytes' Buffer form: the same id as that Buffer (the same Redis key), no other string's.
    const newline = entryKey("users:", "\nab");
    expect(newline.id).toBe(entryKey("users:", Buffer.from("\nab")).id);
    expect(newline.id).not.toBe(entryKey("users:", Buffer.from("ab")).id);
    expect(newline.full).toBe("users:\nab");
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.uint8Array({ maxLength: 6 })), fc.oneof(fc.string(), fc.uint8Array({ maxLength: 6 })), (a, b) => {
        const key = (k: string | Uint8Array) => (typeof k === "string" ? k : Buffer.from(k));
        const [x, y] = [entryKey("n:", key(a)), entryKey("n:", key(b))];
        // One id for one Redis key: ids equal only when the stored keys are the same bytes.
        if (x.id === y.id) expect(Buffer.compare(Buffer.from(x.full), Buffer.from(y.full))).toBe(0);
      }),
      { seed: 4, numRuns: 500 },
    );
  });

  it("refuse keys that are not strings or Buffers", () => {
    for (const key of [42, null, undefined, ["a"], { a: 1 }]) expect(() => entryKey("users:", key)).toThrow(CacheArgumentError);
    expect(() => entryKey("users:", 42)).toThrow(/cache "users": a key must be a string or a Buffer \(got number\)/);
  });
});

describe("cache turn clock", () => {
  it("reads the wall clock once per event-loop turn, and again in the next turn", async () => {
    const before = Date.now();
    const first = turnClock();
    expect(first).toBeGreaterThanOrEqual(before);
    // Bounded: the wall clock moves on within a few ms.
    const spinUntil = performance.now() + 50;
    while (Date.now() <= first + 2 && performance.now() < spinUntil);
    expect(Date.now()).toBeGreaterThan(first + 2);
    expect(turnClock()).toBe(first);
    await new Promise((resolve) => setImmediate(resolve));
    expect(turnClock()).toBeGreaterThan(first + 2);
  });
});

describe("cache options", () => {
  it("fill defaults and freeze", () => {
    const options = resolveCacheOptions({ namespace: "users", ttlMs: 60_000 });
    expect(options).toMatchObject({ namespace: "users", ttlMs: 60_000, jitter: 0.1, staleMs: 0, beta: 1, lockTtlMs: 1000, waitTimeoutMs: 2000, loadTimeoutMs: 10_000, negativeTtlMs: 0 });
    expect(Object.isFrozen(options)).toBe(true);
    expect(resolveCacheOptions({ namespace: "n", ttlMs: 1, earlyRefresh: false }).beta).toBe(0);
  });

  it("list every problem in one ConfigError", () => {
    let error: ConfigError | undefined;
    try {
      resolveCacheOptions({ namespace: "has space", ttlMs: -1, jitter: 2, staleMs: 1.5, earlyRefresh: { beta: 0 }, lockTtlMs: 1, loadTimeoutMs: 0, serializer: {}, colour: "red" });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toEqual([
      "unknown cache option 'colour'",
      expect.stringContaining("cache.namespace must be 1-128 characters without whitespace"),
      expect.stringContaining("cache.ttlMs must be an integer number of ms from 1"),
      expect.stringContaining("cache.jitter must be a number from 0 to 0.5"),
      expect.stringContaining("cache.earlyRefresh must be false or { beta }"),
      expect.stringContaining("cache.serializer must be { encode(value), decode(buffer) }"),
      expect.stringContaining("cache.staleMs must be an integer"),
      expect.stringContaining("cache.lockTtlMs must be an integer number of ms from 10"),
      expect.stringContaining("cache.loadTimeoutMs must be an integer number of ms from 1"),
    ]);
    expect(() => resolveCacheOptions("users")).toThrow(ConfigError);
  });
});

describe("cache timing", () => {
  it("spreads TTLs over ttl * (1 ± jitter), evenly", () => {
    const random = seeded(7);
    const ttls = Array.from({ length: 10_000 }, () => jitteredTtl(10_000, 0.1, random));
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(9000);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(11_000);
    // Uniform: about a quarter in each quarter of the range.
    const quarter = ttls.filter((t) => t < 9500).length / ttls.length;
    expect(quarter).toBeGreaterThan(0.23);
    expect(quarter).toBeLessThan(0.27);
    expect(jitteredTtl(10_000, 0, random)).toBe(10_000);
  });

  it("refreshes early as often as XFetch's formula says: P = exp(-(expiry - now) / (loadMs * beta))", () => {
    const random = seeded(42);
    const draws = 20_000;
    for (const [loadMs, beta, left] of [[100, 1, 50], [100, 1, 200], [20, 2, 10], [500, 0.5, 100]] as const) {
      let refreshed = 0;
      for (let i = 0; i < draws; i++) if (refreshEarly(1_000_000 - left, 1_000_000, loadMs, beta, random)) refreshed++;
      const expected = Math.exp(-left / (loadMs * beta));
      expect(Math.abs(refreshed / draws - expected), `loadMs ${loadMs}, beta ${beta}, ${left} ms left`).toBeLessThan(0.015);
    }
    // Never without a measured load, never with beta 0, always at expiry.
    expect(refreshEarly(999, 1000, 0, 1, random)).toBe(false);
    expect(refreshEarly(999, 1000, 100, 0, random)).toBe(false);
    expect(refreshEarly(1000, 1000, 100, 1, () => 0)).toBe(true);
  });
});
