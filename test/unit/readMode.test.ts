/**
 * Over a cluster, a node the map turns from replica into master must stop
 * serving reads from its copy on the connection that said READONLY: it is
 * told READWRITE even while its breaker is open (a breaker guards callers'
 * commands, not the connection's own mode). Found by the chaos soak: a node
 * whose breaker was open when the map made it master kept its READONLY
 * connection; once the cluster demoted it again, a pipeline's GET was served
 * there from its copy (the value before the SET in front of it, which
 * went to the new master).
 */
import { beforeEach, describe, expect, it, vi } from "vitest";
import { internalCommand } from "../../lib/commands/command.js";
import { resolveOptions } from "../../lib/config/resolve.js";
import { Executor } from "../../lib/exec/Executor.js";
import type { LayoutSource } from "../../lib/topology/TopologyHolder.js";
import type { ShardNodes } from "../../lib/topology/Topology.js";
import { fakeConnections, type FakeConnection } from "../support/fakeConnection.js";
import { noEvents, noFleetEvents } from "../support/executorEvents.js";
import { useFakeTime } from "../support/fakeNode.js";
import { closedAfterEach } from "../support/fakeExecutors.js";

const A = { host: "10.0.0.1", port: 7000 };
const B = { host: "10.0.0.1", port: 7003 };

const executors = closedAfterEach();
beforeEach(() => useFakeTime());
describe("a cluster node's read mode", () => {
  it("a replica promoted by the map while its breaker is open is told READWRITE", async () => {
    let shard: ShardNodes = { master: A, replicas: [B] };
    let promoted = false;
    const source: LayoutSource = { observe: async () => ({ shards: [shard], names: ["aaaaaaaa"], slots: new Uint16Array(16384) }) };
    const fakes = fakeConnections((c: FakeConnection) => {
      const isB = c.address === "10.0.0.1:7003";
      Object.defineProperty(c, "role", { get: () => (isB === promoted ? "master" : "slave") });
      // B never answers a read: its breaker opens on the timeouts.
      c.autoReply = (cmd) => (cmd.name === "get" && isB ? undefined : cmd.name === "info" ? "" : cmd.name === "get" ? null : "OK");
    });
    const exec = new Executor(
      resolveOptions({
        cluster: { seeds: ["10.0.0.1:7000"] },
        commandTimeoutMs: 100,
        topologyRefreshMs: 200,
        breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 },
        retry: { attempts: 0 },
      }),
      noEvents,
      noFleetEvents,
      { connections: fakes.factory, source },
    );
    executors.push(exec);
    await vi.advanceTimersByTimeAsync(20);
    // Replica reads that time out (as under a SIGSTOP), straight on B's node.
    const b = exec.fleet.registry.replicasOf(0)[0]!;
    const reads = [1, 2, 3, 4].map(() => b.send(internalCommand("get", ["k"]), 100).catch((error: unknown) => error));
    await vi.advanceTimersByTimeAsync(150);
    expect((await reads[3]) as Error).toHaveProperty("name", "TimeoutError");
    expect(b.admits).toBe(false);
    // The cluster fails A over to B; the next periodic map read says so.
    shard = { master: B, replicas: [A] };
    promoted = true;
    await vi.advanceTimersByTimeAsync(500);
    const onB = fakes.all("10.0.0.1:7003").flatMap((c) => c.names());
    expect(onB).toContain("readonly");
    expect(onB.lastIndexOf("readwrite")).toBeGreaterThan(onB.lastIndexOf("readonly"));
  });
});
