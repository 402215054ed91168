/**
 * A migration's phases change by a timer at each boundary, not only at the
 * next command (docs/scaling.md): an executor on fake connections, in fake
 * time, that is never sent a command.
 */
import { beforeEach, describe, expect, it, vi } from "vitest";
import { resolveOptions } from "../../lib/config/resolve.js";
import type { ShardedClientOptions } from "../../lib/config/types.js";
import { Executor } from "../../lib/exec/Executor.js";
import { fakeConnections } from "../support/fakeConnection.js";
import { noEvents, noFleetEvents } from "../support/executorEvents.js";
import { useFakeTime } from "../support/fakeNode.js";
import { closedAfterEach } from "../support/fakeExecutors.js";

const SHARDS = [0, 1, 2, 3].map((i) => ({ name: `s${i}`, master: `10.0.0.${i + 1}:6379` }));
const P = 60_000;

const executors = closedAfterEach();

/** An executor shrinking s0..s3 to s0, s2, s3 (s1 removed), starting 1 s from now. */
function shrinking(): { exec: Executor; phases: string[] } {
  const options = { shards: [SHARDS[0]!, SHARDS[2]!, SHARDS[3]!], migration: { from: { shards: SHARDS }, startAt: Date.now() + 1000, phaseMs: P } };
  const exec = new Executor(resolveOptions(options as ShardedClientOptions), noEvents, noFleetEvents, { connections: fakeConnections().factory });
  executors.push(exec);
  const phases: string[] = [];
  exec.moves.onPhase = (phase, previous) => phases.push(`${previous}->${phase}`);
  return { exec, phases };
}

beforeEach(() => useFakeTime());
describe("migration phase timer", () => {
  it("changes phase at each boundary without a command, releases the removed shard at done, and stops when the client closes", async () => {
    const { exec, phases } = shrinking();
    const closed = shrinking();
    const closing = closed.exec.close(0);
    await vi.advanceTimersByTimeAsync(999);
    await closing;
    expect(phases).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    expect(phases).toEqual(["before->dual"]);
    await vi.advanceTimersByTimeAsync(P);
    expect(phases).toEqual(["before->dual", "dual->warm"]);
    await vi.advanceTimersByTimeAsync(P);
    expect(phases).toEqual(["before->dual", "dual->warm", "warm->switch", "switch->done"]);
    expect(exec.fleet.live()).toEqual([0, 1, 2]);
    expect(exec.fleet.holder.current.names[3]).toBe("s1");
    expect(exec.master(3)).toBeUndefined();
    expect(exec.shardIndex("s1")).toBe(-1);
    // Closed before its start: no phase change was looked for.
    expect(closed.phases).toEqual([]);
  });
});
