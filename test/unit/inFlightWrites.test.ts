/**
 * InFlightWrites (lib/migration/inFlight.ts): a migration's record of this
 * client's writes of moving keys still in flight. A warm read of such a key
 * goes to the old owner, behind the write; once the write settles, answered
 * or failed (its reply lost, its deadline passed), the key is read as usual
 * again, and the write's own rejection still reaches its caller.
 */
import { describe, expect, it } from "vitest";
import { InFlightWrites } from "../../lib/migration/inFlight.js";

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe("InFlightWrites", () => {
  it("holds a key while any of its writes is in flight, and lets it go once each settled, answered or failed", async () => {
    const writing = new InFlightWrites();
    const answered = deferred<string>();
    const lost = deferred<string>();
    const first = writing.track(["k", Buffer.from("b")], answered.promise);
    const second = writing.track(["k"], lost.promise);
    expect(writing.has("k")).toBe(true);
    expect(writing.has(Buffer.from("b"))).toBe(true);
    expect(writing.has("other")).toBe(false);

    answered.resolve("OK");
    await expect(first).resolves.toBe("OK");
    expect(writing.has("b")).toBe(false);
    expect(writing.has("k")).toBe(true); // the second write of k is still in flight

    lost.reject(new Error("connection lost with the command in flight"));
    await expect(second).rejects.toThrow("connection lost");
    expect(writing.has("k")).toBe(false);
  });
});
