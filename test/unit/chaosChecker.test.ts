/**
 * The chaos soak's checker (test/chaos/check) on made-up histories: it must
 * catch each kind of violation it claims to, and excuse only what a logged
 * data loss explains. A checker that passes everything would make the soak
 * worthless, so every verdict is seen failing here.
 */
import { describe, expect, it } from "vitest";
import { HistoryChecker, type CheckName, type ProcessEnd } from "../chaos/check/checker.js";
import { LossWindows, type Scope } from "../chaos/check/losses.js";
import type { CallRecord, FaultRecord, HistoryRecord } from "../chaos/history.js";

let seq = 0;
const call = (op: string, args: CallRecord["args"], outcome: Partial<CallRecord>, at = 100, l = 0): CallRecord => ({
  type: "call", w: 1, l, seq: ++seq, op, args, start: at, end: at + 1, ...outcome,
});
const set = (k: string, v: string, at: number) => call("set", { k, v }, { reply: "OK" }, at);
const fault = (extra: Partial<FaultRecord>): FaultRecord => ({
  type: "fault", id: 1, kind: "SIGKILL master", target: "x", detail: "", at: 500, healAt: 600, healedAt: 700, shard: "s0", ...extra,
});
const ok: ProcessEnd = { worker: 1, exitCode: 0, signal: null, done: {}, stderr: "" };

/**
 * A live growth (--grow) as the soak describes it to the checker: every key moves from s0 to s3, s0 read
 * until 2000 (retireAt), s3 holding copies from 900 (warm - S), the switch at 1500.
 */
const GROWN = { switchAt: 1500 };
const movingScope = (): Scope => ({ shard: "s3", owners: [{ shard: "s0", from: -Infinity, until: 2000 }, { shard: "s3", from: 900, until: Infinity }] });

interface Options {
  faults?: FaultRecord[];
  final?: Map<string, string | null>;
  ends?: ProcessEnd[];
  recoveredFrom?: number;
  /** A growth: every key moves (movingScope), and the values left on the old owner's master. */
  grown?: { oldOwners?: Map<string, string | null> };
}

/** Runs both passes over the records; returns the failed checks and their first reasons. */
function verdicts(records: HistoryRecord[], options: Options = {}) {
  const scope = options.grown ? movingScope : () => ({ shard: "s0" });
  const checker = new HistoryChecker(new LossWindows(options.faults ?? [], scope), options.recoveredFrom, options.grown && GROWN);
  for (const r of records) checker.learn(r);
  for (const r of records) checker.check(r, JSON.stringify(r));
  const result = checker.finish(options.final ?? new Map(), options.ends ?? [ok], undefined, options.grown?.oldOwners);
  return Object.fromEntries(result.filter((v) => !v.pass).map((v) => [v.name, v.examples.map((e) => e.reason)])) as Partial<Record<CheckName, string[]>>;
}

describe("chaos checker", () => {
  it("passes a consistent history", () => {
    expect(
      verdicts([
        set("r:1", "r:1|1.1", 100),
        call("get", { k: "r:1" }, { reply: "r:1|1.1" }, 200),
        call("get", { k: "r:2" }, { reply: null }, 200),
        call("incr", { k: "n:1.0:0" }, { reply: 1 }, 300),
        call("incr", { k: "n:1.0:0" }, { reply: 2 }, 310),
        call("getCounter", { k: "n:1.0:0" }, { reply: "2" }, 320),
        call("multi", { x: "{t1.0}:x", n: "{t1.0}:n", v: "{t1.0}:x|1.9" }, { reply: [[null, "OK"], [null, 1], [null, "{t1.0}:x|1.9"]] }),
        call("get", { k: "r:1" }, { error: { name: "TimeoutError", code: "ERR_SHARDIS_TIMEOUT", message: "t" } }),
        call("set", { k: "r:1", v: "r:1|1.2" }, { error: { name: "ReplyError", code: "NOPERM", message: "NOPERM no" } }),
      ]),
    ).toEqual({});
  });

  it("catches a reply of another key, of another command, or written after the read", () => {
    const found = verdicts([
      set("r:1", "r:1|1.1", 100),
      set("r:2", "r:2|1.2", 100),
      set("r:3", "r:3|1.3", 900),
      call("get", { k: "r:1" }, { reply: "r:2|1.2" }, 200),
      call("get", { k: "r:1" }, { reply: "OK" }, 200),
      call("get", { k: "r:3" }, { reply: "r:3|1.3" }, 200),
      call("set", { k: "r:1", v: "r:1|1.4" }, { reply: "r:1|1.1" }, 200),
      call("incr", { k: "n:1.0:0" }, { reply: "OK" }, 200),
      call("mget", { ks: ["r:1", "r:2"] }, { reply: ["r:2|1.2", "r:1|1.1"] }, 200),
      call("script", { k: "r:1", v: "r:1|1.5" }, { reply: ["r:2", "r:2|1.2"] }, 200),
    ]);
    expect(found.replies).toHaveLength(5); // the report shows the first five
    expect(found.replies![0]).toMatch(/a value of r:2/);
    expect(found.replies![1]).toMatch(/not a value of this soak/);
    expect(found.replies![2]).toMatch(/written .* after the read ended/);
  });

  it("catches a transaction whose GET does not see its own SET, and QUEUED outside a transaction", () => {
    const found = verdicts([
      call("multi", { x: "{t1.0}:x", n: "{t1.0}:n", v: "{t1.0}:x|1.9" }, { reply: [[null, "OK"], [null, 1], [null, null]] }),
      call("get", { k: "r:1" }, { reply: "QUEUED" }),
    ]);
    expect(found.replies?.[0]).toMatch(/expected its own SET/);
    expect(found.queued?.[0]).toMatch(/get answered QUEUED/);
  });

  it("catches a counter going backwards, unless a logged data loss on its shard covers it", () => {
    const history = [call("incr", { k: "n:1.0:0" }, { reply: 5 }, 550), call("incr", { k: "n:1.0:0" }, { reply: 3 }, 650)];
    expect(verdicts(history).counters?.[0]).toMatch(/INCR answered 3 after 5/);
    expect(verdicts(history, { faults: [fault({ loss: "async" })] }).counters).toBeUndefined();
    // A loss elsewhere in time does not excuse it.
    expect(verdicts(history, { faults: [fault({ loss: "async", at: 1000, healedAt: 1100 })] }).counters).toHaveLength(1);
    // Nor a fault that cannot lose data.
    expect(verdicts(history, { faults: [fault({})] }).counters).toHaveLength(1);
  });

  it("catches an acknowledged write-concern write missing at the end, unless its node was wiped after it", () => {
    const history = [call("writeConcern", { k: "wc:1.1", v: "wc:1.1|1.1" }, { reply: "OK" }, 300)];
    const final = new Map([["wc:1.1", null]]);
    expect(verdicts(history, { final }).durable?.[0]).toMatch(/acknowledged wc:1.1\|1.1, the final master has null/);
    expect(verdicts(history, { final, faults: [fault({ loss: "async" })] }).durable).toHaveLength(1); // a failover keeps it
    expect(verdicts(history, { final, faults: [fault({ loss: "wipe" })] }).durable).toBeUndefined();
    expect(verdicts(history, { final: new Map([["wc:1.1", "wc:1.1|1.1"]]) }).durable).toBeUndefined();
  });

  it("catches a WATCH block aborted though nothing could have changed its key", () => {
    const k = "{a1.0}:bal";
    const aborted = call("watch", { k }, { reply: { got: "3", exec: null } }, 650);
    const committed = call("watch", { k }, { reply: { got: "2", exec: [[null, "OK"]] } }, 550);
    expect(verdicts([committed, aborted]).watch?.[0]).toMatch(/EXEC aborted/);
    // An ACL change cannot touch a key: no excuse.
    expect(verdicts([committed, aborted], { faults: [fault({ kind: "ACL", shard: undefined })] }).watch).toHaveLength(1);
    // A fault on its shard since the lane's last block, or that block failing (its SET may land late), may.
    expect(verdicts([committed, aborted], { faults: [fault({ kind: "SIGSTOP master" })] }).watch).toBeUndefined();
    const failed = call("watch", { k }, { error: { name: "TimeoutError", code: "ERR_SHARDIS_TIMEOUT", message: "t" } }, 550);
    expect(verdicts([failed, aborted]).watch).toBeUndefined();
  });

  it("catches untyped errors, also inside a PartialFailureError and a pipeline", () => {
    const found = verdicts([
      call("set", { k: "r:1", v: "r:1|1.1" }, { error: { name: "ReplyError", code: "MOVED", message: "MOVED 1 127.0.0.1:1" } }),
      call("mget", { ks: ["r:1", "r:2"] }, {
        error: { name: "PartialFailureError", code: "ERR_SHARDIS_PARTIAL_FAILURE", message: "p", failures: [{ name: "TypeError", message: "x is undefined" }] },
      }),
      call("pipeline", { own: "p:1.0", v: "p:1.0|1.2", n: "n:1.0:0", r: "r:1" }, {
        // A failed entry as ioredis (and shardis) give it: [error] alone.
        reply: [[null, "OK"], [null, "p:1.0|1.2"], [{ error: { name: "ReplyError", code: "ERR", message: "ERR EXEC without MULTI" } }], [null, null]],
      }),
    ]);
    expect(found.replies).toBeUndefined();
    expect(found.errors).toEqual([
      "ReplyError MOVED: MOVED 1 127.0.0.1:1",
      "inside PartialFailureError: TypeError: x is undefined",
      "ReplyError ERR: ERR EXEC without MULTI",
    ]);
  });

  it("catches a crashed or hung client process, and a failure once the topology is whole", () => {
    const found = verdicts(
      [
        { type: "crash", w: 2, at: 1, what: "unhandledRejection: boom" },
        call("get", { k: "r:1" }, { error: { name: "ConnectionError", code: "ERR_SHARDIS_CONNECTION", message: "lost" } }, 2000),
      ],
      { ends: [ok, { worker: 2, exitCode: null, signal: "SIGKILL", hung: "did not exit", stderr: "" }], recoveredFrom: 1000 },
    );
    expect(found.processes).toEqual(["client w2: unhandledRejection: boom", "client w2: did not exit"]);
    expect(found.recovered?.[0]).toMatch(/get failed 1.0 s into the quiet period/);
  });

  describe("a live growth (--grow)", () => {
    const n = "n:1.0:0";
    const incr = (value: number, at: number) => call("incr", { k: n }, { reply: value }, at);

    it("a wipe of a moving key's old owner excuses a step back while the old owner holds it, and of its new owner once that holds copies; not outside those times", () => {
      const history = [incr(5, 550), incr(3, 650)];
      const wipe = (shard: string, at: number) => fault({ loss: "wipe", shard, at, healAt: at + 50, healedAt: at + 100 });
      expect(verdicts(history, { grown: {}, faults: [wipe("s0", 560)] }).counters).toBeUndefined();
      // The new owner holds nothing of the key before warm: a wipe of it then loses nothing.
      expect(verdicts(history, { grown: {}, faults: [wipe("s3", 560)] }).counters).toHaveLength(1);
      const late = [incr(5, 2100), incr(3, 2300)];
      expect(verdicts(late, { grown: {}, faults: [wipe("s3", 2200)] }).counters).toBeUndefined();
      // Nobody reads the old owner past retireAt: its wipe then excuses nothing.
      expect(verdicts(late, { grown: {}, faults: [wipe("s0", 2200)] }).counters).toHaveLength(1);
    });

    it("a counter starting again from empty on its new owner at the switch is excused; a value the new owner could only have as a stale copy is not", () => {
      const restarted = [incr(40, 1400), incr(1, 1510), incr(2, 1520), call("getCounter", { k: n }, { reply: "2" }, 1530)];
      expect(verdicts(restarted, { grown: {} })).toEqual({});
      // The same history without a growth is a step back.
      expect(verdicts(restarted).counters?.[0]).toMatch(/INCR answered 1 after 40/);
      // 30 after 40 across the switch: 1 increment since could not count to 30 on an empty owner: an old copy, stale.
      expect(verdicts([incr(40, 1400), incr(30, 1510)], { grown: {} }).counters?.[0]).toMatch(/INCR answered 30 after 40/);
      // A step back not across the switch is never the migration's.
      expect(verdicts([incr(40, 1600), incr(1, 1700)], { grown: {} }).counters).toHaveLength(1);
    });

    it("after a wipe of the old owner before the switch, a copy on the new owner outlives it: a step back seen after the heal is excused only as far as the lane counted since the wipe", () => {
      const wiped = [fault({ loss: "wipe", shard: "s0", at: 1000, healAt: 1050, healedAt: 1100 })];
      // 70 read from the new owner's copy after the heal; the next INCR reaches the wiped old owner.
      const history = [incr(70, 950), call("getCounter", { k: n }, { reply: "70" }, 1200), incr(1, 1300)];
      expect(verdicts(history, { grown: {}, faults: wiped })).toEqual({});
      expect(verdicts(history, { grown: {} }).counters).toHaveLength(1);
      // One increment since the wipe cannot count to 40: not the wipe's.
      const stale = [incr(70, 950), call("getCounter", { k: n }, { reply: "70" }, 1200), incr(40, 1300)];
      expect(verdicts(stale, { grown: {}, faults: wiped }).counters?.[0]).toMatch(/INCR answered 40 after 70/);
    });

    it("a write-concern write made before the switch, missing on the new owner, is excused only if its old owner still holds that value", () => {
      const k = "wc:1.1";
      const v = "wc:1.1|1.1";
      const before = [call("writeConcern", { k, v }, { reply: "OK" }, 1200)];
      const final = new Map([[k, null]]);
      expect(verdicts(before, { final, grown: { oldOwners: new Map([[k, v]]) } }).durable).toBeUndefined();
      expect(verdicts(before, { final, grown: { oldOwners: new Map([[k, null]]) } }).durable).toHaveLength(1);
      // Written after the switch: on the new owner or lost.
      const after = [call("writeConcern", { k, v }, { reply: "OK" }, 1600)];
      expect(verdicts(after, { final, grown: { oldOwners: new Map([[k, v]]) } }).durable).toHaveLength(1);
    });

    it("a write-concern write never copied and then lost with its old owner (wiped after the write, also once nobody reads it) is excused; a wipe before the write is not", () => {
      const k = "wc:1.1";
      const before = [call("writeConcern", { k, v: "wc:1.1|1.1" }, { reply: "OK" }, 1200)];
      const final = new Map([[k, null]]);
      const grown = { oldOwners: new Map([[k, null]]) };
      const wipe = (at: number) => fault({ loss: "wipe", shard: "s0", at, healAt: at + 50, healedAt: at + 100 });
      expect(verdicts(before, { final, grown, faults: [wipe(2200)] }).durable).toBeUndefined();
      expect(verdicts(before, { final, grown, faults: [wipe(1000)] }).durable).toHaveLength(1);
    });
  });
});
