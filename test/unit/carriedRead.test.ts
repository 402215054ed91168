/**
 * CarriedRead on its own: the GET whose promise settles with its caller's
 * object (the cache's hit path), and fails with a CarriedFailure naming it,
 * the connection's recovery still seeing the plain error first.
 */
import { describe, expect, it } from "vitest";
import { CarriedFailure, CarriedRead, failureOf } from "../../lib/commands/command.js";

const carried = () => ({ raw: null as Buffer | null, tag: Math.random() });

describe("CarriedRead", () => {
  it("settles with the caller's object, the reply on it, and counts hits and misses as any GET", async () => {
    const mine = carried();
    const cmd = new CarriedRead("k", mine);
    expect([cmd.name, cmd.args]).toEqual(["get", ["k"]]);
    cmd.resolve(Buffer.from("v"));
    const settled = await cmd.promise;
    expect(settled).toBe(mine);
    expect(mine.raw?.toString()).toBe("v");
    const missing = new CarriedRead("gone", carried());
    missing.resolve(null);
    expect(((await missing.promise) as { raw: unknown }).raw).toBeNull();
    expect([cmd.hits, cmd.misses, missing.hits, missing.misses]).toEqual([1, 0, 0, 1]);
  });

  it("fails with a CarriedFailure that names the caller's object and the error", async () => {
    const mine = carried();
    const cmd = new CarriedRead("k", mine);
    const boom = new Error("boom");
    cmd.rejectFinal(boom);
    const failure = await cmd.promise.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(failure).toBeInstanceOf(CarriedFailure);
    expect((failure as CarriedFailure).carried).toBe(mine);
    expect((failure as CarriedFailure).error).toBe(boom);
    expect(failureOf(failure)).toBe(boom);
    expect(failureOf(boom)).toBe(boom);
  });

  it("lets the connection's recovery see the plain error first and take the command over", async () => {
    const cmd = new CarriedRead("k", carried());
    const seen: Error[] = [];
    cmd.interceptor = (error) => (seen.push(error), true);
    const lost = new Error("connection lost");
    cmd.reject(lost);
    expect(seen).toEqual([lost]);
    expect(cmd.isSettled).toBe(false);
    // The retry's reply still reaches the caller's object.
    cmd.resolve(Buffer.from("again"));
    expect(((await cmd.promise) as { raw: Buffer }).raw.toString()).toBe("again");
  });

  it("clones with the same key and caller's object (sent again after a refusal)", async () => {
    const mine = carried();
    const again = new CarriedRead("k", mine).clone();
    expect(again).toBeInstanceOf(CarriedRead);
    expect(again.args).toEqual(["k"]);
    again.resolve(Buffer.from("x"));
    expect(await again.promise).toBe(mine);
  });
});
