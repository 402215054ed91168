import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MinHeap } from "../../lib/util/heap.js";

describe("MinHeap", () => {
  it("pops in key order whatever the pushes and pops in between", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), fc.constant("pop" as const)), { maxLength: 200 }), (ops) => {
        const heap = new MinHeap<number>((n) => n);
        const model: number[] = [];
        for (const op of ops) {
          if (op === "pop") {
            model.sort((a, b) => a - b);
            expect(heap.pop()).toBe(model.shift());
          } else {
            heap.push(op);
            model.push(op);
          }
          expect(heap.size).toBe(model.length);
          expect(heap.peek()).toBe(model.length ? Math.min(...model) : undefined);
        }
      }),
    );
  });
});
