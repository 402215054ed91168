/**
 * The pure core of a live migration: its options (one place for defaults and
 * validation), the phase clock at and around every boundary, and which keys
 * move between two placements (slots, an explicit map, ketama; growing and
 * shrinking).
 */
import { describe, expect, it } from "vitest";
import { resolveOptions } from "../../lib/config/resolve.js";
import { resolveReconfigure } from "../../lib/config/migration.js";
import { ConfigError } from "../../lib/errors.js";
import { PhaseClock, phaseSteps } from "../../lib/migration/clock.js";
import { copierMode } from "../../lib/migration/copier.js";
import { movingShare, Placement } from "../../lib/migration/placement.js";
import { keySlot } from "../../lib/sharding/keySlot.js";

const shard = (i: number) => ({ name: `s${i}`, master: `127.0.0.1:${7000 + i}` });
const fleet = (n: number) => Array.from({ length: n }, (_, i) => shard(i));
const T0 = Date.parse("2026-12-10T10:00:00Z");

function problemsOf(options: unknown): string[] {
  try {
    resolveOptions(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error("expected a ConfigError");
}

describe("migration options", () => {
  it("serves the union of both fleets: the new one first, then shards only the old one has", () => {
    const resolved = resolveOptions({
      shards: [shard(0), shard(1), shard(3)],
      migration: { from: { shards: [shard(0), shard(1), shard(2)], sharding: { strategy: "ketama" } }, startAt: "2026-12-10T10:00:00Z", phaseMs: 60_000 },
    });
    expect(resolved.shards.map((s) => [s.name, s.index])).toEqual([["s0", 0], ["s1", 1], ["s3", 2], ["s2", 3]]);
    const m = resolved.migration!;
    expect(m.startAt).toBe(T0);
    expect([m.phaseMs, m.clockSkewMs, m.copyWindowMs]).toEqual([60_000, 1000, 2000]);
    expect(m.to).toEqual({ shards: [0, 1, 2], sharding: resolved.sharding });
    expect(m.from).toEqual({ shards: [0, 1, 3], sharding: { strategy: "ketama", hashTag: false } });
    expect(Object.isFrozen(m.from.shards)).toBe(true);
    expect(resolveOptions({ shards: fleet(2) }).migration).toBeUndefined();
  });

  it("takes startAt as an ISO string, a Date or epoch ms; phaseMs defaults to 10 minutes", () => {
    const base = { from: { shards: fleet(2) } };
    expect(resolveOptions({ shards: fleet(3), migration: { ...base, startAt: new Date(T0) } }).migration!.startAt).toBe(T0);
    expect(resolveOptions({ shards: fleet(3), migration: { ...base, startAt: T0 } }).migration!.phaseMs).toBe(600_000);
  });

  it.each([
    [{ from: { shards: fleet(2) } }, "migration.startAt must be an ISO 8601 date-time, a Date or epoch ms (got undefined)"],
    [{ from: { shards: fleet(2) }, startAt: "tomorrow" }, 'migration.startAt must be an ISO 8601 date-time, a Date or epoch ms (got "tomorrow")'],
    [{ from: { shards: fleet(2) }, startAt: T0, phaseMs: 5000 }, "migration.phaseMs must be at least 2 * (clockSkewMs + commandTimeoutMs + copyWindowMs) = 8000 (got 5000)"],
    [{ from: { shards: fleet(2) }, startAt: T0, clockSkewMs: -1 }, "migration.clockSkewMs must be an integer from 0 to 600000 (got -1)"],
    [{ startAt: T0 }, "migration.from must be the fleet before the change, { shards, sharding } (got undefined)"],
    [{ from: { shards: [] }, startAt: T0 }, "migration.from.shards must be a non-empty array (got an array)"],
    [{ from: { shards: fleet(2), sharding: { strategy: "ring" } }, startAt: T0 }, 'migration.from.sharding.strategy must be "slots" or "ketama" (got "ring")'],
    [{ from: { shards: [{ name: "s0", master: "127.0.0.1:9999" }] }, startAt: T0 }, "migration.from.shards[0] 's0' has other nodes than the shard of that name in the other fleet; a shard keeps its nodes across the change (name it differently)"],
    [{ from: { shards: [{ name: "old", master: "127.0.0.1:7000" }] }, startAt: T0 }, "migration.from.shards[0] 'old' uses 127.0.0.1:7000, which shard 's0' uses"],
    [{ from: { shards: fleet(2) }, startAt: T0, extra: 1 }, "unknown field in migration 'extra'"],
  ])("refuses %j", (migration, problem) => {
    expect(problemsOf({ shards: fleet(3), migration })).toContain(problem);
  });

  it("the phase bound counts commandTimeoutMs; a cluster migrates itself", () => {
    expect(problemsOf({ shards: fleet(2), commandTimeoutMs: 3000, migration: { from: { shards: fleet(1) }, startAt: T0, phaseMs: 10_000 } })).toContain(
      "migration.phaseMs must be at least 2 * (clockSkewMs + commandTimeoutMs + copyWindowMs) = 12000 (got 10000)",
    );
    expect(problemsOf({ cluster: { seeds: ["127.0.0.1:7000"] }, migration: { from: { shards: fleet(1) }, startAt: T0 } })).toContain(
      "migration is for configured shards: a Redis Cluster moves its slots itself (see docs/cluster.md)",
    );
  });

  it("reconfigure(): adds shards by name, starts from the fleet in force, in the future only", () => {
    const current = resolveOptions({ shards: fleet(3), sharding: { strategy: "ketama" } });
    const context = { shards: current.shards, current: { shards: [0, 1, 2], sharding: current.sharding }, commandTimeoutMs: 1000, now: T0 - 60_000 };
    const problems: string[] = [];
    const grown = resolveReconfigure({ shards: fleet(4), migration: { startAt: T0, phaseMs: 60_000 } }, context, problems)!;
    expect(problems).toEqual([]);
    expect(grown.union.map((s) => s.name)).toEqual(["s0", "s1", "s2", "s3"]);
    expect(grown.to).toEqual({ shards: [0, 1, 2, 3], sharding: { strategy: "ketama", hashTag: false } });
    expect(grown.migration!.from).toBe(context.current);
    // Shrinking keeps every shard the client knows (the removed one is still the old owner); the new fleet names indexes.
    const shrunk = resolveReconfigure({ shards: [shard(0), shard(2)] }, context, problems)!;
    expect(shrunk.to.shards).toEqual([0, 2]);
    expect(shrunk.union).toHaveLength(3);
    expect(shrunk.migration).toBeUndefined();

    const refused = (input: unknown) => {
      const out: string[] = [];
      expect(resolveReconfigure(input, context, out)).toBeUndefined();
      return out;
    };
    expect(refused({ shards: fleet(4), migration: { startAt: T0 - 120_000, phaseMs: 60_000 } })[0]).toMatch(/^migration.startAt must be in the future in reconfigure\(\)/);
    expect(refused({ shards: fleet(4), migration: { startAt: T0, phaseMs: 60_000, from: { shards: fleet(3) } } })[0]).toMatch(/^migration.from is not the client's current fleet/);
    expect(refused({ shards: [...fleet(3), { name: "s9", masterName: "m9" }] })).toEqual([
      "shards[3] 's9': a shard added at run time needs a fixed master (Sentinel-managed shards are configured when the client is made)",
    ]);
    expect(refused({ shards: [{ name: "s1", master: "127.0.0.1:7100" }] })[0]).toMatch(/^shards\[0\] 's1' has other nodes/);
    // The same config every process holds (from included) is accepted.
    const same: string[] = [];
    resolveReconfigure({ shards: fleet(4), migration: { startAt: T0, phaseMs: 60_000, from: { shards: fleet(3), sharding: { strategy: "ketama" } } } }, context, same);
    expect(same).toEqual([]);
  });
});

describe("the phase clock", () => {
  // P = 60 s, S = 1000 + 1000, W = 2000.
  const clock = new PhaseClock({ startAt: T0, phaseMs: 60_000, clockSkewMs: 1000, copyWindowMs: 2000 }, 1000);

  it("places every instant in one phase, boundaries included", () => {
    expect(clock.boundMs).toBe(2000);
    const at = (offset: number) => clock.phaseAt(T0 + offset);
    expect([at(-1), at(0), at(59_999), at(60_000), at(117_999), at(118_000), at(119_999), at(120_000), at(1e9)]).toEqual([
      "before", "dual", "dual", "warm", "warm", "switch", "switch", "done", "done",
    ]);
    expect(clock.state(T0 + 61_000)).toEqual({ phase: "warm", since: T0 + 60_000, until: T0 + 118_000 });
    expect(clock.state(T0 - 5)).toEqual({ phase: "before", since: -Infinity, until: T0 });
    expect(clock.state(T0 + 120_000)).toEqual({ phase: "done", since: T0 + 120_000, until: Infinity });
  });

  it("copies only in the warm phase, stopping S + W before the switch; old owners retire S after done", () => {
    expect(clock.copies(T0 + 59_999)).toBe(false);
    expect(clock.copies(T0 + 60_000)).toBe(true);
    expect(clock.copyUntil).toBe(T0 + 118_000 - 2000 - 2000);
    expect(clock.copies(T0 + 113_999)).toBe(true);
    expect(clock.copies(T0 + 114_000)).toBe(false);
    expect(clock.retireAt).toBe(T0 + 122_000);
  });
});

describe("placements and moving keys", () => {
  const KEYS = Array.from({ length: 4000 }, (_, i) => `user:${i}`);
  const names = (n: number) => fleet(n).map((s) => ({ name: s.name, weight: 1 }));

  it("slots, growing 3 -> 4: keys move where the default ranges changed, onto the union's indexes", () => {
    const to = resolveOptions({ shards: fleet(4), migration: { from: { shards: fleet(3) }, startAt: T0, phaseMs: 60_000 } });
    const m = to.migration!;
    const from = new Placement(m.from, to.shards);
    const next = new Placement(m.to, to.shards);
    const moved = KEYS.filter((k) => from.strategy.shardIndexOf(k) !== next.strategy.shardIndexOf(k));
    // 3 ranges of ~5461 slots become 4 of 4096: half of the slots change owner.
    expect(movingShare(from, next)).toBeCloseTo((16384 - 4096 - 2731 - 1365) / 16384, 2);
    for (const k of KEYS) {
      const slot = keySlot(k);
      expect(from.strategy.shardIndexOf(k)).toBe(slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2);
      expect(next.strategy.shardIndexOf(k)).toBe(Math.floor(slot / 4096));
    }
    expect(moved.length / KEYS.length).toBeGreaterThan(0.4);
  });

  it("slots with an explicit map: only the slots handed over move", () => {
    const before = { s0: [[0, 5460]], s1: [[5461, 10922]], s2: [[10923, 16383]] };
    const after = { s0: [[0, 5460]], s1: [[5461, 10922]], s2: [[10923, 13000]], s3: [[13001, 16383]] };
    const to = resolveOptions({
      shards: fleet(4),
      sharding: { strategy: "slots", slots: after },
      migration: { from: { shards: fleet(3), sharding: { strategy: "slots", slots: before } }, startAt: T0, phaseMs: 60_000 },
    } as never);
    const from = new Placement(to.migration!.from, to.shards);
    const next = new Placement(to.migration!.to, to.shards);
    for (const k of KEYS) {
      const moves = from.strategy.shardIndexOf(k) !== next.strategy.shardIndexOf(k);
      expect(moves).toBe(keySlot(k) >= 13001);
      if (moves) expect([from.strategy.shardIndexOf(k), next.strategy.shardIndexOf(k)]).toEqual([2, 3]);
    }
    expect(movingShare(from, next)).toBe((16384 - 13001) / 16384);
  });

  it("ketama, growing 3 -> 4: about a quarter of the keys move, all onto the new shard", () => {
    const to = resolveOptions({ shards: fleet(4), sharding: { strategy: "ketama" }, migration: { from: { shards: fleet(3), sharding: { strategy: "ketama" } }, startAt: T0, phaseMs: 60_000 } });
    const from = new Placement(to.migration!.from, to.shards);
    const next = new Placement(to.migration!.to, to.shards);
    const moved = KEYS.filter((k) => from.strategy.shardIndexOf(k) !== next.strategy.shardIndexOf(k));
    expect(moved.length / KEYS.length).toBeGreaterThan(0.15);
    expect(moved.length / KEYS.length).toBeLessThan(0.35);
    expect(new Set(moved.map((k) => next.strategy.shardIndexOf(k)))).toEqual(new Set([3]));
    expect(Math.abs(movingShare(from, next) - moved.length / KEYS.length)).toBeLessThan(0.03);
  });

  it("ketama, shrinking 4 -> 3 (s1 removed): exactly s1's keys move, and the old owner keeps its union index", () => {
    const after = [shard(0), shard(2), shard(3)];
    const to = resolveOptions({ shards: after, sharding: { strategy: "ketama" }, migration: { from: { shards: fleet(4), sharding: { strategy: "ketama" } }, startAt: T0, phaseMs: 60_000 } });
    expect(to.shards.map((s) => s.name)).toEqual(["s0", "s2", "s3", "s1"]);
    const from = new Placement(to.migration!.from, to.shards);
    const next = new Placement(to.migration!.to, to.shards);
    expect(from.shards).toEqual([0, 3, 1, 2]);
    expect(next.has(3)).toBe(false);
    for (const k of KEYS) {
      const a = from.strategy.shardIndexOf(k);
      const b = next.strategy.shardIndexOf(k);
      // Ketama moves only the removed shard's keys.
      if (a !== 3) expect(b).toBe(a);
      else expect(b).not.toBe(3);
    }
    // The old placement is the one a 4-shard client had (names, not indexes, place keys).
    const alone = new Placement({ shards: [0, 1, 2, 3], sharding: { strategy: "ketama", hashTag: false } }, names(4));
    const nameOf = (i: number) => to.shards[i]!.name;
    for (const k of KEYS.slice(0, 500)) expect(nameOf(from.strategy.shardIndexOf(k))).toBe(`s${alone.strategy.shardIndexOf(k)}`);
  });
});

describe("copyAll's windows", () => {
  // S = 1000 skew + 5000 command timeout; W = 2000; P = 60 s.
  const clock = new PhaseClock({ startAt: T0, phaseMs: 60_000, clockSkewMs: 1000, copyWindowMs: 2000 }, 5000);

  it("copies from startAt + S to the end of warm's copy window, retires from doneAt + S, and refuses between, saying when", () => {
    expect(copierMode(clock, T0 - 1)).toEqual({ refused: expect.stringContaining("every process is in dual"), retryAtMs: T0 + 6000 });
    expect(copierMode(clock, T0 + 5999)).toMatchObject({ retryAtMs: T0 + 6000 });
    expect(copierMode(clock, T0 + 6000)).toBe("copy");
    expect(copierMode(clock, T0 + 60_000)).toBe("copy");
    // copyUntil = switchAt - S - W = (T0 + 120 s - 6 s) - 6 s - 2 s.
    expect(clock.copyUntil).toBe(T0 + 106_000);
    expect(copierMode(clock, T0 + 105_999)).toBe("copy");
    expect(copierMode(clock, T0 + 106_000)).toMatchObject({ retryAtMs: T0 + 126_000 });
    expect(copierMode(clock, T0 + 120_000)).toMatchObject({ retryAtMs: T0 + 126_000 });
    expect(copierMode(clock, T0 + 125_999)).toMatchObject({ retryAtMs: T0 + 126_000 });
    expect(copierMode(clock, T0 + 126_000)).toBe("retire");
  });
});

describe("phaseSteps: what migration:phase says when the clock was noticed late", () => {
  it("one step per boundary passed, in order; a clock stepped back gives the one step it took", () => {
    expect(phaseSteps("dual", "before")).toEqual([["dual", "before"]]);
    expect(phaseSteps("switch", "before")).toEqual([
      ["dual", "before"],
      ["warm", "dual"],
      ["switch", "warm"],
    ]);
    expect(phaseSteps("done", "warm")).toEqual([
      ["switch", "warm"],
      ["done", "switch"],
    ]);
    expect(phaseSteps("dual", "warm")).toEqual([["dual", "warm"]]);
  });
});
