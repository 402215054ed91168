import { describe, expect, it } from "vitest";
import { commandSpec, keyIndexes } from "../../lib/routing/commandSpec.js";
import { Router, type SplitPlan } from "../../lib/routing/plan.js";
import { broadcastRule, combine } from "../../lib/routing/broadcast.js";
import { reduceReplies } from "../../lib/routing/reduce.js";
import { refusal } from "../../lib/routing/refusals.js";
import { SlotStrategy } from "../../lib/sharding/strategy.js";
import { defaultSlotRanges } from "../../lib/sharding/slotMap.js";
import { keySlot } from "../../lib/sharding/keySlot.js";
import {
  CrossShardError,
  InvalidArgumentError,
  KeylessCommandError,
  UnknownCommandError,
} from "../../lib/errors.js";

const names = ["s0", "s1", "s2"];
const strategy = new SlotStrategy(defaultSlotRanges([1, 1, 1]).map((r) => [r]));
const router = new Router(strategy, names, "use a hash tag");
const shard = (key: string) => strategy.shardIndexOf(key);

// Keys known to land on different shards under the default 3-way split.
const onShard = (index: number, prefix = "k") => {
  for (let i = 0; ; i++) if (shard(`${prefix}${i}`) === index) return `${prefix}${i}`;
};
const [a0, a1, a2] = [onShard(0), onShard(1), onShard(2)] as [string, string, string];

describe("command metadata", () => {
  it("finds single-key commands without scanning", () => {
    expect(commandSpec("get").singleKeyIndex).toBe(0);
    expect(commandSpec("hset").singleKeyIndex).toBe(0);
    expect(commandSpec("mget").singleKeyIndex).toBe(-1);
    expect(commandSpec("eval").singleKeyIndex).toBe(-1);
  });

  it("derives split rules from the request and response policies", () => {
    expect(commandSpec("mget").split).toEqual({ step: 1, reduce: "byKey" });
    expect(commandSpec("mset").split).toEqual({ step: 2, reduce: "allOk" });
    for (const name of ["del", "unlink", "exists", "touch"]) expect(commandSpec(name).split).toEqual({ step: 1, reduce: "sum" });
    for (const name of ["msetnx", "rename", "sunionstore", "eval", "msetex"]) expect(commandSpec(name).split).toBeUndefined();
  });

  it("reads flags", () => {
    expect(commandSpec("get").readOnly).toBe(true);
    expect(commandSpec("set").readOnly).toBe(false);
    expect(commandSpec("blpop").blocking).toBe(true);
    expect(commandSpec("nosuchcommand").known).toBe(false);
  });

  it("finds keys of movable-key and subcommand commands", () => {
    expect(keyIndexes(commandSpec("eval"), ["return 1", "2", "a", "b", "x"])).toEqual([2, 3]);
    expect(keyIndexes(commandSpec("xread"), ["COUNT", "1", "STREAMS", "s1", "s2", "0", "0"])).toEqual([3, 4]);
    expect(keyIndexes(commandSpec("object"), ["ENCODING", "k"])).toEqual([1]);
    expect(keyIndexes(commandSpec("zunionstore"), ["dst", "2", "a", "b", "WEIGHTS", "1", "2"])).toEqual([0, 2, 3]);
    // SORT patterns name keys the server resolves itself; only real keys route.
    expect(keyIndexes(commandSpec("sort"), ["list", "BY", "w_*", "GET", "o_*", "STORE", "dst"])).toEqual([0, 6]);
  });
});

describe("Router.route", () => {
  it("routes a single-key command by its key", () => {
    expect(router.route(commandSpec("get"), [a1])).toBe(1);
    expect(router.route(commandSpec("set"), [a2, "v"])).toBe(2);
  });

  it("keeps multi-key commands whose keys share a shard whole", () => {
    expect(router.route(commandSpec("mget"), ["{u}a", "{u}b"])).toBe(shard("u"));
    expect(router.route(commandSpec("rename"), ["{u}a", "{u}b"])).toBe(shard("u"));
    expect(router.route(commandSpec("eval"), ["return 1", "2", "{t}x", "{t}y"])).toBe(shard("t"));
  });

  it("plans a split when a splittable command spans shards", () => {
    expect(router.route(commandSpec("mget"), [a0, a1])).toMatchObject({ kind: "split", keyCount: 2, reduce: "byKey" });
    expect(router.route(commandSpec("mset"), [a0, "1", a2, "2"])).toMatchObject({ kind: "split", keyCount: 2, reduce: "allOk" });
  });

  it("refuses an odd MSET even when its keys share a shard", () => {
    expect(() => router.route(commandSpec("mset"), ["{u}a", "1", "{u}b"])).toThrow(InvalidArgumentError);
  });

  it("refuses other multi-key commands that span shards, naming the shards", () => {
    const attempt = () => router.route(commandSpec("sunionstore"), [a0, a1, a2]);
    expect(attempt).toThrow(CrossShardError);
    try {
      attempt();
    } catch (error) {
      expect((error as CrossShardError).shards).toEqual(["s0", "s1", "s2"]);
      expect((error as Error).message).toBe("SUNIONSTORE keys span shards s0, s1, s2; use a hash tag");
    }
    expect(() => router.route(commandSpec("blpop"), [a0, a1, "0"])).toThrow(CrossShardError);
    expect(() => router.route(commandSpec("eval"), ["return 1", "2", a0, a1])).toThrow(CrossShardError);
  });

  it("refuses keyless and unknown commands", () => {
    expect(() => router.route(commandSpec("ping"), [])).toThrow(KeylessCommandError);
    expect(() => router.route(commandSpec("eval"), ["return 1", "0"])).toThrow(KeylessCommandError);
    expect(() => router.route(commandSpec("json.get"), ["k"])).toThrow(UnknownCommandError);
    expect(() => router.route(commandSpec("get"), [])).toThrow(InvalidArgumentError);
  });
});

const split = (name: string, args: string[]) => router.route(commandSpec(name), args) as SplitPlan;

describe("Router.split and reduce", () => {
  it("groups keys per shard and restores caller order", () => {
    const keys = [a2, a0, a1, a0, a2];
    const plan = split("mget", keys);
    expect(plan.parts.map((p) => p.shard)).toEqual([2, 0, 1]);
    expect(plan.parts[0]!.args).toEqual([a2, a2]);
    expect(plan.parts[0]!.positions).toEqual([0, 4]);
    const replies = plan.parts.map((p) => p.args.map((k) => `v:${k}`));
    expect(reduceReplies(plan, replies)).toEqual(keys.map((k) => `v:${k}`));
  });

  it("keeps values with their keys for MSET", () => {
    const plan = split("mset", [a0, "1", a1, "2", a0, "3"]);
    expect(plan.parts.find((p) => p.shard === 0)!.args).toEqual([a0, "1", a0, "3"]);
    expect(reduceReplies(plan, ["OK", "OK"])).toBe("OK");
    expect(() => split("mset", [a0, "1", a1])).toThrow(InvalidArgumentError);
  });

  it("sums counts, as numbers or as strings", () => {
    const plan = split("del", [a0, a1, a2]);
    expect(reduceReplies(plan, [1, 0, 1])).toBe(2);
    expect(reduceReplies(plan, ["1", "0", "1"])).toBe("2");
  });
});

describe("broadcast plans", () => {
  it("sends fleet-wide keyless commands to every shard, and nothing else", () => {
    expect(router.plan(commandSpec("ping"), [], [0, 1, 2])).toEqual({ kind: "broadcast", shards: [0, 1, 2], combine: "first" });
    expect(router.plan(commandSpec("script"), ["LOAD", "return 1"], [0, 1, 2])).toMatchObject({ kind: "broadcast", combine: "same" });
    expect(router.plan(commandSpec("script"), ["exists", "abc"], [0, 1, 2])).toMatchObject({ combine: "and" });
    expect(router.plan(commandSpec("pubsub"), ["NUMSUB", "a"], [0, 1, 2])).toMatchObject({ combine: "sumPairs" });
    expect(router.plan(commandSpec("get"), [a1], [0, 1, 2])).toEqual({ kind: "single", shard: 1 });
    expect(() => router.plan(commandSpec("script"), ["KILL"], [0, 1, 2])).toThrow(KeylessCommandError);
    expect(() => router.plan(commandSpec("flushdb"), [], [0, 1, 2])).toThrow(KeylessCommandError);
    expect(broadcastRule("keys", ["*"])).toBeUndefined();
  });

  it("combines replies by rule", () => {
    const names = ["s0", "s1"];
    expect(combine("first", ["PONG", "PONG"], names)).toBe("PONG");
    expect(combine("same", ["abc", "abc"], names)).toBe("abc");
    expect(() => combine("same", ["abc", "abd"], names)).toThrow("shards answered differently: s0=abc, s1=abd");
    expect(combine("and", [[1, 1, 0], [1, 0, 0]], names)).toEqual([1, 0, 0]);
    expect(combine("sum", [3, 4], names)).toBe(7);
    expect(combine("sumPairs", [["a", 1, "b", 0], ["a", 2, "b", 5]], names)).toEqual(["a", 3, "b", 5]);
    expect(combine("concat", [["x"], ["y", "z"]], names)).toEqual(["x", "y", "z"]);
    expect(combine("info", ["redis_version:7.0.15", "redis_version:7.0.15"], names)).toBe(
      "# Shard s0\r\nredis_version:7.0.15\r\n# Shard s1\r\nredis_version:7.0.15",
    );
  });
});

describe("refusal", () => {
  it("refuses commands that change a shared connection's state", () => {
    for (const name of ["select", "auth", "hello", "quit", "subscribe", "multi", "watch", "monitor", "reset"]) {
      expect(refusal(name, [])).toBeTypeOf("string");
    }
    expect(refusal("client", ["REPLY", "OFF"])).toMatch(/desynchronise/);
    expect(refusal("client", ["LIST"])).toBeUndefined();
    expect(refusal("get", ["k"])).toBeUndefined();
  });
});

it("helper keys really land on three different shards", () => {
  const byRange = (key: string) => (keySlot(key) <= 5460 ? 0 : keySlot(key) <= 10922 ? 1 : 2);
  expect([a0, a1, a2].map(byRange)).toEqual([0, 1, 2]);
});
