/**
 * Commands that one connection hands to another node keep their order.
 * Found by the chaos soak (cluster, right after a CLUSTER FAILOVER): a
 * pipeline's SET answered READONLY by the demoted master waited for the map
 * to be re-read before it went to the new master, while the GET behind it,
 * answered MOVED, went there at once. The GET read the key's previous value
 * and the SET landed after it: `[[null, "OK"], [null, <old value>]]`.
 */
import { ReplyError } from "ioredis";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { resolveOptions } from "../../lib/config/resolve.js";
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
/**
 * One shard, every slot. The cluster fails OLD over to NEW before the
 * client's map knows it: OLD answers writes READONLY and reads MOVED (as a
 * demoted master does in the moment it turns replica), NEW keeps a tiny
 * keyspace. The map is re-read in 5 ms (a round trip).
 */
function failedOver() {
  let shard: ShardNodes = { master: OLD, replicas: [NEW] };
  const source: LayoutSource = {
    observe: () => new Promise((resolve) => setTimeout(() => resolve({ shards: [shard], names: ["aaaaaaaa"], slots: new Uint16Array(16384) }), 5)),
  };
  const store = new Map<string, string>([["k", "old"]]);
  let failedOver = false;
  const answer = (c: FakeConnection) => {
    const isNew = c.address === "10.0.0.1:7003";
    Object.defineProperty(c, "role", { get: () => (isNew === failedOver ? "master" : "slave") });
    c.autoReply = (cmd) => {
      const [key, value] = cmd.args as string[];
      if (cmd.name === "set" || cmd.name === "get") {
        if (!isNew && failedOver) return new ReplyError(cmd.name === "set" ? "READONLY You can't write against a read only replica." : "MOVED 12539 10.0.0.1:7003");
        if (cmd.name === "set") return store.set(key!, value!) && "OK";
        return store.get(key!) ?? null;
      }
      return cmd.name === "info" ? "" : cmd.name === "ping" ? "PONG" : "OK";
    };
  };
  const fakes = fakeConnections(answer);
  const exec = new Executor(resolveOptions({ cluster: { seeds: ["10.0.0.1:7000"] }, commandTimeoutMs: 1000 }), noEvents, noFleetEvents, {
    connections: fakes.factory,
    source,
  });
  executors.push(exec);
  const failOver = () => {
    shard = { master: NEW, replicas: [OLD] };
    failedOver = true;
  };
  return { exec, fakes, failOver };
}

describe("hand-overs from one connection", () => {
  it("a write re-sent after READONLY (waiting for the map) and a read re-sent after MOVED reach the new master in their order", async () => {
    const { exec, fakes, failOver } = failedOver();
    await vi.advanceTimersByTimeAsync(20);
    failOver();
    // One turn: both leave in one write to OLD, as a pipeline's do.
    const set = exec.run("set", ["k", "new"], "utf8", exec.defaults);
    const get = exec.run("get", ["k"], "utf8", exec.defaults);
    await vi.advanceTimersByTimeAsync(100);
    expect(await set).toBe("OK");
    expect(await get).toBe("new");
    const onNew = fakes.all("10.0.0.1:7003").flatMap((c) => c.names()).filter((n) => n === "set" || n === "get");
    expect(onNew).toEqual(["set", "get"]);
  });
});
