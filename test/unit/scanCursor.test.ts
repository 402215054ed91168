import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor, EPOCHS } from "../../lib/scan/cursor.js";
import { InvalidArgumentError } from "../../lib/index.js";

describe("the fleet-wide SCAN cursor", () => {
  it("carries shard index, the shard's cursor and the placement epoch, independent of how many shards there are", () => {
    for (const [shard, cursor, epoch] of [[1, "0", 0], [3, "17", 5], [0, "18446744073709551615", 255], [65535, "1", 1]] as const) {
      expect(decodeCursor(encodeCursor(shard, cursor, epoch))).toEqual({ start: false, shard, cursor, epoch });
    }
  });

  it('"0" (string, number or Buffer) is the start; the epoch is kept modulo EPOCHS', () => {
    for (const zero of ["0", 0, Buffer.from("0")]) expect(decodeCursor(zero)).toMatchObject({ start: true, shard: 0, cursor: "0" });
    expect(decodeCursor(encodeCursor(2, "9", EPOCHS + 3)).epoch).toBe(3);
  });

  it("refuses what no SCAN returned", () => {
    for (const bad of ["-1", "abc", "", "1".repeat(41), {}, null]) expect(() => decodeCursor(bad)).toThrow(InvalidArgumentError);
  });
});
