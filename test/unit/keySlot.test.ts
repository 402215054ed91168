import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { keySlot, SLOT_COUNT, crc16 } from "../../lib/sharding/keySlot.js";

describe("keySlot", () => {
  it("matches the Redis Cluster spec's reference values", () => {
    // CRC16-XMODEM check value from the Redis Cluster specification.
    expect(crc16(Buffer.from("123456789"))).toBe(0x31c3);
    expect(keySlot("foo")).toBe(12182);
    expect(keySlot("bar")).toBe(5061);
    expect(keySlot("")).toBe(0);
  });

  it("hashes only the first non-empty {tag}", () => {
    expect(keySlot("{user1000}.following")).toBe(keySlot("{user1000}.followers"));
    expect(keySlot("{user1000}.following")).toBe(keySlot("user1000"));
    expect(keySlot("foo{}{bar}")).toBe(8363); // empty first tag: the whole key (CLUSTER KEYSLOT says 8363)
    expect(keySlot("foo{}{bar}")).not.toBe(keySlot("bar"));
    expect(keySlot("foo{{bar}}zap")).toBe(keySlot("{bar"));
    expect(keySlot("foo{bar}{zap}")).toBe(keySlot("bar"));
    expect(keySlot("}{a}")).toBe(keySlot("a"));
    expect(keySlot("{a")).not.toBe(keySlot("a"));
  });

  it("gives a string and its UTF-8 Buffer the same slot", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (key) => {
        expect(keySlot(key)).toBe(keySlot(Buffer.from(key, "utf8")));
      }),
      { numRuns: 3000 },
    );
  });

  it("always returns a slot in range", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const slot = keySlot(Buffer.from(bytes));
        expect(slot).toBeGreaterThanOrEqual(0);
        expect(slot).toBeLessThan(SLOT_COUNT);
      }),
    );
  });
});
