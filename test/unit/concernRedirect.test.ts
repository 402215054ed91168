/**
 * A write with a write concern over a cluster, answered MOVED by a master
 * the cluster just demoted, naming the replica it promoted, which the
 * client's map still calls a replica (fake connections, fake time). Found by
 * the chaos soak: right after a CLUSTER FAILOVER, such a write came back to
 * its caller as a raw "MOVED 942 ..." (sent again at once to the map's old
 * master, 16 times, before the map was re-read).
 */
import { ReplyError } from "ioredis";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { resolveOptions } from "../../lib/config/resolve.js";
import { SlotMovedError } from "../../lib/errors.js";
import { Executor } from "../../lib/exec/Executor.js";
import type { LayoutSource } from "../../lib/topology/TopologyHolder.js";
import type { ShardNodes } from "../../lib/topology/Topology.js";
import { fakeConnections, type FakeConnection } from "../support/fakeConnection.js";
import { noEvents, noFleetEvents } from "../support/executorEvents.js";
import { useFakeTime } from "../support/fakeNode.js";
import { closedAfterEach } from "../support/fakeExecutors.js";

const OLD = { host: "10.0.0.1", port: 7000 };
const NEW = { host: "10.0.0.1", port: 7003 };

const executors = closedAfterEach();
beforeEach(() => useFakeTime());
/** One shard, every slot; the map says OLD is master until promote() (then NEW). OLD answers writes MOVED to NEW. */
function cluster() {
  let shard: ShardNodes = { master: OLD, replicas: [NEW] };
  let promoted = false;
  const source: LayoutSource = { observe: async () => ({ shards: [shard], names: ["aaaaaaaa"], slots: new Uint16Array(16384) }) };
  const answer = (c: FakeConnection) => {
    const isNew = c.address === "10.0.0.1:7003";
    Object.defineProperty(c, "role", { get: () => (isNew && !promoted ? "slave" : "master") });
    c.autoReply = (cmd) => {
      if (cmd.name === "set") return isNew ? "OK" : new ReplyError("MOVED 866 10.0.0.1:7003");
      if (cmd.name === "wait") return isNew ? 1 : 0;
      return cmd.name === "info" ? "" : cmd.name === "ping" ? "PONG" : "OK";
    };
  };
  const fakes = fakeConnections(answer);
  const exec = new Executor(resolveOptions({ cluster: { seeds: ["10.0.0.1:7000"] }, commandTimeoutMs: 1000 }), noEvents, noFleetEvents, {
    connections: fakes.factory,
    source,
  });
  executors.push(exec);
  const promote = () => {
    shard = { master: NEW, replicas: [OLD] };
    promoted = true;
  };
  const concern = { ...exec.defaults, writeConcern: { replicas: 1, timeoutMs: 100 } };
  return { exec, fakes, promote, write: () => exec.run("set", ["k", "v"], "utf8", concern) };
}

describe("a write with a write concern, MOVED to a replica just promoted", () => {
  it("waits for the map to name the new master, then writes and waits there", async () => {
    const { fakes, promote, write } = cluster();
    await vi.advanceTimersByTimeAsync(10);
    const result = write().catch((error: unknown) => error);
    // The cluster's other nodes learn of the promotion a moment later than the demoted master says MOVED.
    await vi.advanceTimersByTimeAsync(1);
    promote();
    await vi.advanceTimersByTimeAsync(500);
    expect(await result).toBe("OK");
    expect(fakes.all("10.0.0.1:7003").flatMap((c) => c.names())).toEqual(expect.arrayContaining(["set", "wait"]));
  });

  it("while the map keeps the old master: a typed SlotMovedError at the deadline, not the raw MOVED", async () => {
    const { write } = cluster();
    await vi.advanceTimersByTimeAsync(10);
    const result = write().catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(2000);
    expect(await result).toBeInstanceOf(SlotMovedError);
  });
});
