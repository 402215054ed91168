import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { BUCKET_SHIFT, bucketTable, buildContinuum, hashTagged, pointFor, SEARCH, twemproxyPointCount } from "../../lib/sharding/ketama.js";
import { md5First32 } from "../../lib/sharding/md5.js";
import { instantiateMd5 } from "../../lib/sharding/md5Wasm.js";
import { KetamaStrategy } from "../../lib/sharding/strategy.js";

const nativeFirst32 = (data: string | Buffer) => createHash("md5").update(data).digest().readUInt32LE(0);

describe("twemproxyPointCount", () => {
  it("gives 160 points per shard for equal weights, in float32 like twemproxy", () => {
    for (let n = 1; n <= 20; n++) expect(twemproxyPointCount(1, n, n)).toBe(160);
  });

  it("rounds the way twemproxy's float arithmetic does", () => {
    // 5 shards, weight 1 of 25: float32 gives 7.99999... so 7 hashes, 28 points (doubles say 32).
    expect(twemproxyPointCount(1, 25, 5)).toBe(28);
    expect(twemproxyPointCount(2, 4, 3)).toBe(240);
  });
});

describe("continuum", () => {
  it("has the points twemproxy would place, sorted", () => {
    const { values, owners } = buildContinuum([
      { name: "s0", weight: 1 },
      { name: "s1", weight: 2 },
      { name: "s2", weight: 1 },
    ]);
    expect(values.length).toBe(120 + 240 + 120); // 160 per shard on average, split by weight
    for (let i = 1; i < values.length; i++) expect(values[i]!).toBeGreaterThanOrEqual(values[i - 1]!);
    expect(owners.filter((o) => o === 1).length).toBe(240);
    // The first point of "s0-0" is md5("s0-0") bytes 0..3 little-endian.
    expect(values).toContain(nativeFirst32("s0-0"));
  });

  it("finds the first point at or after a hash, wrapping around", () => {
    const values = Uint32Array.from([10, 20, 30]);
    expect(pointFor(values, 0)).toBe(0);
    expect(pointFor(values, 10)).toBe(0);
    expect(pointFor(values, 11)).toBe(1);
    expect(pointFor(values, 30)).toBe(2);
    expect(pointFor(values, 31)).toBe(0);
  });

  it("answers from the bucket table exactly as the binary search would", () => {
    const { values, owners } = buildContinuum([1, 2, 3, 4, 5].map((w, i) => ({ name: `n${i}`, weight: w })));
    const table = bucketTable(values, owners);
    expect(table.filter((owner) => owner === SEARCH).length).toBeLessThan(values.length + 1);
    const hashes = [0, 2 ** 32 - 1, ...values, ...Array.from(values, (v) => v + 1), ...Array.from(values, (v) => v - 1)];
    for (let i = 1; i <= 20000; i++) hashes.push(Math.imul(i, 2654435761)); // spread over the whole ring
    for (const h of hashes.map((x) => x >>> 0)) {
      const fromTable = table[h >>> BUCKET_SHIFT]!;
      expect(fromTable !== SEARCH ? fromTable : owners[pointFor(values, h)]).toBe(owners[pointFor(values, h)]);
    }
  });

  it("keys placement by shard name, not address", () => {
    const a = new KetamaStrategy([{ name: "s0", weight: 1 }, { name: "s1", weight: 1 }], false);
    const b = new KetamaStrategy([{ name: "s0", weight: 1 }, { name: "s1", weight: 1 }], false);
    for (let i = 0; i < 1000; i++) expect(a.shardIndexOf(`k${i}`)).toBe(b.shardIndexOf(`k${i}`));
  });

  it("honours weights roughly in proportion", () => {
    const strategy = new KetamaStrategy([{ name: "a", weight: 1 }, { name: "b", weight: 3 }], false);
    let b = 0;
    for (let i = 0; i < 20000; i++) b += strategy.shardIndexOf(`key:${i}`);
    expect(b / 20000).toBeGreaterThan(0.65);
    expect(b / 20000).toBeLessThan(0.85);
  });
});

describe("md5First32", () => {
  it("runs on the WebAssembly block function here, not the node:crypto fallback", () => {
    const module = instantiateMd5();
    if (!module) throw new Error("the WebAssembly MD5 did not instantiate: every key would take the node:crypto fallback");
    // md5("abc") = 900150983cd24fb0..., so the first word is 0x98500190 little-endian.
    const memory = new Uint8Array(module.memory.buffer);
    memory.fill(0xee, 0, 128); // padding must overwrite whatever the last key left
    memory.set([0x61, 0x62, 0x63]);
    expect(module.digest(3) >>> 0).toBe(0x98500190);
  });

  it("equals node:crypto for any bytes and strings", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
        expect(md5First32(bytes)).toBe(nativeFirst32(Buffer.from(bytes)));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
        expect(md5First32(text)).toBe(nativeFirst32(text));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("hashTagged", () => {
  it("follows twemproxy's hash_tag rule", () => {
    expect(hashTagged("user:{42}:cart", "{}")).toBe("42");
    expect(hashTagged("user:{}:cart", "{}")).toBe("user:{}:cart");
    expect(hashTagged("user:{42", "{}")).toBe("user:{42");
    expect(hashTagged("a$b$c", "$$")).toBe("b");
    expect(hashTagged("x{y}", false)).toBe("x{y}");
    expect(hashTagged(Buffer.from("p{q}r"), "{}")).toEqual(Buffer.from("q"));
  });
});
