/**
 * The Executor (route, split, pick the connection, reduce) on fake
 * connections: which node each command reaches, in what form, and what the
 * caller gets back, with no server. Keys used: "b" and "f" live on s0, "c"
 * and "g" on s1, "a" and "d" on s2 (default slot split of 3 shards).
 */
import { beforeEach, describe, expect, it, vi } from "vitest";
import { resolveOptions } from "../../lib/config/resolve.js";
import type { ShardedClientOptions } from "../../lib/config/types.js";
import { Executor } from "../../lib/exec/Executor.js";
import {
  CircuitOpenError,
  CrossShardError,
  FallbackError,
  KeylessCommandError,
  PartialFailureError,
  TimeoutError,
  UnknownCommandError,
  UnsupportedCommandError,
  WriteConcernError,
} from "../../lib/errors.js";
import type { LayoutSource } from "../../lib/topology/TopologyHolder.js";
import type { ShardNodes } from "../../lib/topology/Topology.js";
import { fakeConnections, type FakeConnection } from "../support/fakeConnection.js";
import { noEvents, noFleetEvents } from "../support/executorEvents.js";
import { ShardedTransaction } from "../../lib/pipeline/Transaction.js";
import { transactionTarget } from "../../lib/client/targets.js";
import { Script } from "../../lib/commands/script.js";
import { turn, useFakeTime } from "../support/fakeNode.js";
import { closedAfterEach } from "../support/fakeExecutors.js";

const S0 = "10.0.0.1:6379";
const S1 = "10.0.0.2:6379";
const S2 = "10.0.0.3:6379";
const SHARDS = [
  { name: "s0", master: S0 },
  { name: "s1", master: S1 },
  { name: "s2", master: S2 },
];


const executors = closedAfterEach();

function executor(options: Partial<ShardedClientOptions> = {}, source?: LayoutSource) {
  const fakes = fakeConnections();
  const exec = new Executor(resolveOptions({ shards: SHARDS, ...options }), noEvents, noFleetEvents, { connections: fakes.factory, source });
  executors.push(exec);
  return { exec, fakes, node: (address: string): FakeConnection => fakes.first(address) };
}

beforeEach(() => useFakeTime());
describe("Executor: routing", () => {
  it("sends a keyed command to the shard that owns its key, and only there", async () => {
    const { exec, node } = executor();
    const reply = exec.run("get", ["c"], "utf8");
    await turn();
    expect(node(S0).written).toEqual([]);
    expect(node(S1).names()).toEqual(["get"]);
    expect(node(S2).written).toEqual([]);
    node(S1).reply("v");
    await expect(reply).resolves.toBe("v");
  });

  it("splits MGET into one MGET per shard, keys in caller order, and puts the replies back in order", async () => {
    const { exec, node } = executor();
    const reply = exec.run("mget", ["a", "b", "c", "f", "d"], "utf8");
    await turn();
    expect(node(S0).written.map((c) => c.args)).toEqual([["b", "f"]]);
    expect(node(S1).written.map((c) => c.args)).toEqual([["c"]]);
    expect(node(S2).written.map((c) => c.args)).toEqual([["a", "d"]]);
    node(S0).reply(["B", null]);
    node(S1).reply(["C"]);
    node(S2).reply(["A", "D"]);
    await expect(reply).resolves.toEqual(["A", "B", "C", null, "D"]);
  });

  it("sums DEL counts and answers MSET with OK once every part did", async () => {
    const { exec, node } = executor();
    const del = exec.run("del", ["a", "b", "c"], "utf8");
    const mset = exec.run("mset", ["a", "1", "b", "2"], "utf8");
    await turn();
    node(S0).reply(1);
    node(S2).reply(1);
    node(S1).reply(0);
    node(S0).reply("OK");
    node(S2).reply("OK");
    await expect(del).resolves.toBe(2);
    await expect(mset).resolves.toBe("OK");
  });

  it("rejects what it cannot route before writing anything", async () => {
    const { exec, fakes } = executor();
    await expect(exec.run("rename", ["a", "b"], "utf8")).rejects.toBeInstanceOf(CrossShardError);
    await expect(exec.run("keys", ["*"], "utf8")).rejects.toBeInstanceOf(KeylessCommandError);
    await expect(exec.run("mset", ["{u}a", "1", "{u}b"], "utf8")).rejects.toThrow("MSET needs arguments in groups of 2");
    await expect(exec.run("nosuchcommand", ["a"], "utf8")).rejects.toBeInstanceOf(UnknownCommandError);
    await expect(exec.run("select", [1], "utf8")).rejects.toBeInstanceOf(UnsupportedCommandError);
    await turn();
    expect([S0, S1, S2].flatMap((a) => fakes.first(a).written)).toEqual([]);
  });

  it("fails a split command with PartialFailureError naming the shards, or per key with { partial }", async () => {
    const { exec, node } = executor({ commandTimeoutMs: 100 });
    const whole = exec.run("mget", ["a", "b"], "utf8");
    const partial = exec.run("mget", ["a", "b"], "utf8", { ...exec.defaults, partial: true });
    const failedWhole = expect(whole).rejects.toThrow(PartialFailureError);
    await turn();
    node(S0).reply(["B"]);
    node(S0).reply(["B"]);
    await vi.advanceTimersByTimeAsync(101);
    await failedWhole;
    await expect(whole).rejects.toThrow(/MGET failed on 1 shard\(s\) \(s2: .*no reply within 100 ms.*\); it ran on s0/);
    const [a, b] = (await partial) as [unknown, unknown];
    expect(a).toBeInstanceOf(TimeoutError);
    expect(b).toBe("B");
  });
});

describe("Executor: broadcasts", () => {
  it("sends fleet-wide keyless commands to every master and combines the replies by rule", async () => {
    const { exec, node } = executor();
    const size = exec.run("dbsize", [], "utf8");
    const loaded = exec.run("script", ["load", "return 1"], "utf8");
    await turn();
    for (const address of [S0, S1, S2]) {
      expect(node(address).names()).toEqual(["dbsize", "script"]);
      node(address).reply(address === S1 ? 5 : 2);
      node(address).reply("e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    }
    await expect(size).resolves.toBe(9);
    await expect(loaded).resolves.toBe("e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  });

  it("names the shards that did not answer a broadcast PING", async () => {
    const { exec, node } = executor({ commandTimeoutMs: 100 });
    const ping = exec.run("ping", [], "utf8");
    const failed = expect(ping).rejects.toThrow(/^PING failed on 1 shard\(s\) \(s1: .*\); it ran on s0, s2$/);
    await turn();
    node(S0).reply("PONG");
    node(S2).reply("PONG");
    await vi.advanceTimersByTimeAsync(101);
    await failed;
  });

  it("counts commands refused before any shard, by command and code", async () => {
    const { exec } = executor();
    await expect(exec.run("keys", ["*"], "utf8")).rejects.toBeInstanceOf(KeylessCommandError);
    await expect(exec.run("rename", ["a", "b"], "utf8")).rejects.toBeInstanceOf(CrossShardError);
    await expect(exec.run("rename", ["a", "b"], "utf8")).rejects.toBeInstanceOf(CrossShardError);
    expect(exec.fleet.figures().refusals).toEqual([
      { command: "keys", code: "ERR_SHARDIS_KEYLESS_COMMAND", count: 1 },
      { command: "rename", code: "ERR_SHARDIS_CROSS_SHARD", count: 2 },
    ]);
  });

  it("counts a command failed fast by an open breaker", async () => {
    const { exec } = executor();
    exec.fleet.registry.master(1)!.context.breaker.trip("test");
    await expect(exec.run("get", ["c"], "utf8")).rejects.toBeInstanceOf(CircuitOpenError);
    const figures = exec.fleet.meters.role(1, "master").figures("get");
    expect(figures.outcomes.circuit_open).toBe(1);
  });
});

describe("Executor: connections", () => {
  it("runs a blocking command on a pooled connection, with its own timeout added to the deadline", async () => {
    const { exec, fakes } = executor({ commandTimeoutMs: 100 });
    const popped = exec.run("blpop", ["c", 2], "utf8");
    const rejected = expect(popped).rejects.toThrow(/no reply within 2100 ms/);
    await turn();
    const [shared, pooled] = fakes.all(S1);
    expect(shared!.written).toEqual([]);
    expect(pooled!.names()).toEqual(["blpop"]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(pooled!.pending).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(110);
    await rejected;
  });

  it("waits for replicas after a write with a write concern, on one pooled connection", async () => {
    const { exec, fakes } = executor({ writeConcern: { replicas: 1, timeoutMs: 50 } });
    const write = exec.run("set", ["c", "1"], "utf8");
    const rejected = expect(write).rejects.toBeInstanceOf(WriteConcernError);
    await turn();
    const pooled = fakes.all(S1)[1]!;
    expect(pooled.written.map((c) => [c.name, ...c.args.map(String)])).toEqual([["set", "c", "1"], ["wait", "1", "50"]]);
    pooled.reply("OK");
    pooled.reply(0);
    await rejected;
    await expect(write).rejects.toMatchObject({ reply: "OK", acknowledged: 0, required: 1 });
  });

  it("answers reads from the fallback while a node's breaker is open; writes fail fast", async () => {
    const { exec, node } = executor({ fallback: (command, args) => `fallback ${command} ${String(args[0])}` });
    exec.fleet.registry.master(1)!.context.breaker.trip("test");
    await expect(exec.run("get", ["c"], "utf8")).resolves.toBe("fallback get c");
    await expect(exec.run("incr", ["c"], "utf8")).rejects.toBeInstanceOf(CircuitOpenError);
    const failing = executor({ fallback: () => Promise.reject(new Error("cache miss")) });
    failing.exec.fleet.registry.master(1)!.context.breaker.trip("test");
    await expect(failing.exec.run("get", ["c"], "utf8")).rejects.toBeInstanceOf(FallbackError);
    await turn();
    expect(node(S1).written).toEqual([]);
  });
});

describe("Executor: topology changes", () => {
  /** A source that names shard s0's master only when told to. */
  function controlledSource() {
    let next: Array<ShardNodes | undefined> = [undefined, undefined, undefined];
    const source: LayoutSource = { observe: async () => ({ shards: next }) };
    return { source, set: (shards: Array<ShardNodes | undefined>) => (next = shards) };
  }

  it("hands commands queued for a replaced master to the new one, keeping their deadlines", async () => {
    const { source, set } = controlledSource();
    const { exec, fakes } = executor({ commandTimeoutMs: 1000 }, source);
    fakes.first(S0).onConnect = "hang";
    const reply = exec.run("get", ["b"], "utf8");
    await turn();
    set([{ master: { host: "10.0.0.9", port: 6379 }, replicas: [] }, undefined, undefined]);
    void exec.fleet.holder.refresh("test");
    await vi.advanceTimersByTimeAsync(200); // past the refresh cooldown
    const moved = fakes.first("10.0.0.9:6379");
    expect(moved.names()).toEqual(["get"]);
    moved.reply("from the new master");
    await expect(reply).resolves.toBe("from the new master");
  });
  it("a transaction that waited for its shard's master keeps its deadline on that master", async () => {
    const { source, set } = controlledSource();
    // s0's master comes from Sentinel: none is known until the source names one.
    const shards = [{ name: "s0", masterName: "m0" }, SHARDS[1]!, SHARDS[2]!];
    const { exec, fakes } = executor({ shards, sentinels: ["10.0.0.100:26379"], commandTimeoutMs: 1000 }, source);
    const block = (new ShardedTransaction(transactionTarget(exec, () => undefined)) as unknown as { set(k: string, v: string): ShardedTransaction })
      .set("b", "1")
      .exec();
    let outcome: unknown;
    block.then((v) => (outcome = v), (e: unknown) => (outcome = e));
    await vi.advanceTimersByTimeAsync(800);
    set([{ master: { host: "10.0.0.9", port: 6379 }, replicas: [] }, undefined, undefined]);
    void exec.fleet.holder.refresh("test");
    await vi.advanceTimersByTimeAsync(100);
    expect(fakes.first("10.0.0.9:6379").names()).toEqual(["role", "multi", "set", "exec"]);
    // The new master never answers: the block fails at the 1000 ms it was given, not 1000 ms after it was placed.
    await vi.advanceTimersByTimeAsync(150);
    expect(outcome).toBeInstanceOf(TimeoutError);
  });
  it("a script that waited for its shard's master keeps its deadline on that master", async () => {
    const { source, set } = controlledSource();
    const shards = [{ name: "s0", masterName: "m0" }, SHARDS[1]!, SHARDS[2]!];
    const { exec, fakes } = executor({ shards, sentinels: ["10.0.0.100:26379"], commandTimeoutMs: 1000 }, source);
    const script = Script.define("touch", { lua: "return 1", numberOfKeys: 1 }, () => false, () => -1);
    let outcome: unknown;
    exec.runScript(script, ["b"], "utf8").then((v) => (outcome = v), (e: unknown) => (outcome = e));
    await vi.advanceTimersByTimeAsync(800);
    set([{ master: { host: "10.0.0.9", port: 6379 }, replicas: [] }, undefined, undefined]);
    void exec.fleet.holder.refresh("test");
    await vi.advanceTimersByTimeAsync(100);
    expect(fakes.first("10.0.0.9:6379").names()).toEqual(["role", "eval"]);
    await vi.advanceTimersByTimeAsync(150);
    expect(outcome).toBeInstanceOf(TimeoutError);
  });
});
