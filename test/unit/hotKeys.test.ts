/**
 * The hot-key detector's logic: Space-Saving's guarantees, recall of the
 * true top-10 on a Zipf stream with sampling, windows, shares, the options
 * and the opt-in key labels.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SpaceSaving } from "../../lib/hotkeys/SpaceSaving.js";
import { HotKeyDetector } from "../../lib/hotkeys/HotKeys.js";
import { hotKeyLabel } from "../../lib/metrics/hotKeyFamilies.js";
import { resolveOptions } from "../../lib/config/resolve.js";
import { ConfigError } from "../../lib/errors.js";
import { DEFAULTS } from "../../lib/config/defaults.js";
import { seededRandom, zipfSampler } from "../support/zipf.js";

const names = (i: number) => `s${i}`;

describe("SpaceSaving", () => {
  it("counts exactly while every item has a counter", () => {
    const sketch = new SpaceSaving(10);
    for (const item of ["a", "b", "a", "c", "a", "b"]) sketch.observe(item);
    expect(sketch.top(3)).toEqual([
      { item: "a", count: 3, error: 0 },
      { item: "b", count: 2, error: 0 },
      { item: "c", count: 1, error: 0 },
    ]);
    expect(sketch.total).toBe(6);
  });

  it("bounds every true count between count - error and count, and keeps every item seen more than total/capacity times", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 400 }), fc.integer({ min: 1, max: 12 }), (stream, capacity) => {
        const sketch = new SpaceSaving(capacity);
        const truth = new Map<string, number>();
        for (const n of stream) {
          sketch.observe(`k${n}`);
          truth.set(`k${n}`, (truth.get(`k${n}`) ?? 0) + 1);
        }
        const kept = sketch.top(capacity);
        expect(sketch.size).toBeLessThanOrEqual(capacity);
        for (const { item, count, error } of kept) {
          const real = truth.get(item)!;
          expect(real).toBeLessThanOrEqual(count);
          expect(real).toBeGreaterThanOrEqual(count - error);
        }
        for (const [item, real] of truth) {
          if (real > stream.length / capacity) expect(kept.map((c) => c.item)).toContain(item);
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe("HotKeyDetector", () => {
  it("finds the true top-10 of a Zipf(1.0) stream over 100k keys with recall >= 0.9, sampling as by default, in fixed memory", () => {
    const detector = new HotKeyDetector(DEFAULTS.hotKeys, seededRandom(7), () => 0, false);
    const draw = zipfSampler(100_000, 11);
    const truth = new Map<number, number>();
    for (let i = 0; i < 400_000; i++) {
      const rank = draw();
      truth.set(rank, (truth.get(rank) ?? 0) + 1);
      detector.observe(rank % 3, `item:${rank}`);
    }
    const top10 = [...truth].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([rank]) => `item:${rank}`);
    const found = detector.hotKeys(names).slice(0, 10).map((h) => h.key);
    const recall = top10.filter((key) => found.includes(key)).length / 10;
    expect(recall).toBeGreaterThanOrEqual(0.9);
    // The hottest key's estimate is close to its true count (sampling error only).
    const hottest = detector.hotKeys(names)[0]!;
    expect(hottest.key).toBe("item:0");
    expect(hottest.shard).toBe("s0");
    expect(Math.abs(hottest.count - truth.get(0)!) / truth.get(0)!).toBeLessThan(0.1);
    // Memory: 8 counters per reported key per shard, whatever the number of distinct keys.
    const sizes = (detector as unknown as { current: { sketches: SpaceSaving[] } }).current.sketches.map((s) => s.size);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(400);
  });

  it("reports the last complete window, with rates over its length, and shards' shares of the load", () => {
    let now = 0;
    const detector = new HotKeyDetector({ topK: 2, windowMs: 1000, sampleEvery: 1 }, Math.random, () => now, false);
    for (let i = 0; i < 60; i++) detector.observe(0, "hot");
    for (let i = 0; i < 20; i++) detector.observe(0, `cold:${i}`);
    for (let i = 0; i < 20; i++) detector.observe(1, Buffer.from("other"));
    // Before a window ends, the one being filled is reported.
    now = 500;
    expect(detector.hotKeys(names)[0]).toEqual({ key: "hot", shard: "s0", count: 60, rate: 120 });
    now = 1000;
    detector.rotate();
    for (let i = 0; i < 5; i++) detector.observe(1, "next-window");
    now = 1700;
    const keys = detector.hotKeys(names);
    expect(keys.map((k) => [k.key, k.shard, k.count, k.rate])).toEqual([
      ["hot", "s0", 60, 60],
      ["other", "s1", 20, 20],
    ]);
    const loads = detector.loads(names);
    expect(loads).toEqual([
      { shard: "s0", commands: 80, loadShare: 0.8, hotKeyShare: 62 / 80 },
      { shard: "s1", commands: 20, loadShare: 0.2, hotKeyShare: 1 },
    ]);
    detector.rotate();
    expect(detector.hotKeys(names).map((k) => k.key)).toEqual(["next-window"]);
  });

  it("counts every command toward its shard but samples about one in sampleEvery into the sketch", () => {
    const detector = new HotKeyDetector({ topK: 5, windowMs: 1000, sampleEvery: 10 }, seededRandom(3), () => 0, false);
    for (let i = 0; i < 50_000; i++) detector.observe(0, "k");
    expect(detector.loads(names)[0]!.commands).toBe(50_000);
    const sketch = (detector as unknown as { current: { sketches: SpaceSaving[] } }).current.sketches[0]!;
    // Each sample weighs 10: about 5,000 samples stand for the 50,000 commands.
    expect(sketch.total / 10).toBeGreaterThan(4500);
    expect(sketch.total / 10).toBeLessThan(5500);
  });

  it("ranks keys hot (hotOnly's admission) when in a shard's top-k, this window or the last; demand from memory counts toward the rank, not the load", () => {
    const detector = new HotKeyDetector({ topK: 10, windowMs: 1000, sampleEvery: 1 }, seededRandom(4), () => 0, false);
    const draw = zipfSampler(10_000, 8);
    for (let i = 0; i < 20_000; i++) detector.observe(0, `k${draw()}`);
    expect(["k0", "k1", "k2", "k3"].every((key) => detector.isHot(0, key))).toBe(true);
    // The tail is not hot, even the keys that just took a counter over (their count is mostly inherited).
    const tail = Array.from({ length: 9_000 }, (_, i) => `k${1000 + i}`);
    expect(tail.filter((key) => detector.isHot(0, key))).toEqual([]);
    expect(detector.isHot(0, "never-seen")).toBe(false);
    // With few counters (topK 2: 16), a tail key that just took a counter over can outrank real keys by count; not by guaranteed count.
    const small = new HotKeyDetector({ topK: 2, windowMs: 1000, sampleEvery: 1 }, seededRandom(4), () => 0, false);
    const again = zipfSampler(10_000, 8);
    for (let i = 0; i < 20_000; i++) small.observe(0, `k${again()}`);
    const inflated = small.hotKeys(names).map((k) => k.key).filter((key) => Number(key.slice(1)) >= 1000);
    expect(inflated.length).toBeGreaterThan(0);
    expect(inflated.some((key) => small.isHot(0, key))).toBe(false);
    expect(small.isHot(0, "k0")).toBe(true);
    expect(detector.isHot(1, "k0")).toBe(false); // ranked per shard
    detector.rotate();
    expect(detector.isHot(0, "k0")).toBe(true); // the last window still counts
    // A new key read from memory only (load false) overtakes them: hot, while the shard's load is untouched.
    for (let i = 0; i < 3_000; i++) detector.observe(0, "cached", false);
    expect(detector.isHot(0, "cached")).toBe(true);
    expect(detector.loads(names)[0]?.commands ?? 0).toBe(20_000);
    detector.rotate();
    detector.rotate();
    expect(detector.isHot(0, "cached")).toBe(false);
  });
});

describe("hot-key options and labels", () => {
  const shards = [{ name: "s0", master: "127.0.0.1:6379" }];

  it("is on by default, off with false, and validated", () => {
    expect(resolveOptions({ shards }).hotKeys).toEqual({ topK: 50, windowMs: 10_000, sampleEvery: 16 });
    expect(resolveOptions({ shards, hotKeys: false }).hotKeys).toBeUndefined();
    expect(resolveOptions({ shards, hotKeys: { topK: 10 } }).hotKeys).toEqual({ topK: 10, windowMs: 10_000, sampleEvery: 16 });
    let error: unknown;
    try {
      resolveOptions({ shards, hotKeys: { topK: 0, windowMs: 5, size: 3 } as never, metrics: { hotKeyLabels: "yes" as never } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual(
      expect.arrayContaining([
        "unknown option in hotKeys 'size'",
        "hotKeys.topK must be an integer from 1 to 1000 (got 0)",
        "hotKeys.windowMs must be an integer from 100 to 3600000 (got 5)",
        expect.stringMatching(/^metrics.hotKeyLabels must be true or false/),
      ]),
    );
    expect(() => resolveOptions({ shards, hotKeys: true as never })).toThrow(/hotKeys must be an object/);
  });

  it("keeps short keys as labels and truncates long ones with a hash of the whole key", () => {
    expect(hotKeyLabel("user:42")).toBe("user:42");
    const a = hotKeyLabel("x".repeat(100) + "a");
    const b = hotKeyLabel("x".repeat(100) + "b");
    expect(a.length).toBeLessThanOrEqual(64);
    expect(a).not.toBe(b);
    expect(a.startsWith("x".repeat(54))).toBe(true);
  });
});
