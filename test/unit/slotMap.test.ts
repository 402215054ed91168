import { describe, expect, it } from "vitest";
import { checkSlotMap, defaultSlotRanges, slotOwnerTable } from "../../lib/sharding/slotMap.js";

describe("defaultSlotRanges", () => {
  it("splits like redis-cli --cluster create for three shards", () => {
    expect(defaultSlotRanges([1, 1, 1])).toEqual([
      [0, 5460],
      [5461, 10922],
      [10923, 16383],
    ]);
  });

  it("covers every slot exactly once, contiguously, for 1 to 64 shards", () => {
    for (let n = 1; n <= 64; n++) {
      const ranges = defaultSlotRanges(new Array(n).fill(1));
      expect(ranges[0]![0]).toBe(0);
      expect(ranges[n - 1]![1]).toBe(16383);
      ranges.forEach((range, i) => i > 0 && expect(range[0]).toBe(ranges[i - 1]![1] + 1));
      const sizes = ranges.map(([a, b]) => b - a + 1);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it("sizes ranges by weight", () => {
    const [a, b] = defaultSlotRanges([1, 3]);
    expect(a).toEqual([0, 4095]);
    expect(b).toEqual([4096, 16383]);
  });
});

describe("checkSlotMap", () => {
  const names = ["s0", "s1"];

  it("accepts a complete map and returns ranges in shard order", () => {
    const result = checkSlotMap({ s1: [[8192, 16383]], s0: [[0, 8191]] }, names);
    expect(result.problems).toEqual([]);
    expect(result.ranges).toEqual([[[0, 8191]], [[8192, 16383]]]);
    const owners = slotOwnerTable(result.ranges!);
    expect(owners[8191]).toBe(0);
    expect(owners[8192]).toBe(1);
  });

  it("reports overlaps, gaps, bad ranges and unknown shards together", () => {
    const { problems, ranges } = checkSlotMap(
      { s0: [[0, 9000], [20000, 20001], [5, 1]], s1: [[8000, 16000]], s9: [[0, 1]] },
      names,
    );
    expect(ranges).toBeUndefined();
    expect(problems).toContain("sharding.slots names unknown shard 's9'");
    expect(problems).toContain("sharding.slots.s0[1] must be [start, end] with integers from 0 to 16383");
    expect(problems).toContain("sharding.slots.s0[2] starts after it ends (5 > 1)");
    expect(problems).toContain("slots 8000-9000 are assigned to both s0 and s1");
    expect(problems).toContain("slots 16001-16383 are not assigned to any shard");
  });

  it("reports a shard that owns no slots", () => {
    const { problems } = checkSlotMap({ s0: [[0, 16383]] }, names);
    expect(problems).toEqual(["shard 's1' owns no slots in sharding.slots"]);
  });

  it("rejects a map that is not an object", () => {
    expect(checkSlotMap([[0, 16383]], names).problems[0]).toMatch(/must be an object/);
  });
});
