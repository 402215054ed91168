/**
 * A connection's write queue on its own: when queued commands leave (the
 * end of the turn, or at once after maxWriteDelayMs; a MULTI block is one
 * entry, see nodeClient.test.ts), and that a turn asks the scheduler for one
 * write however many commands it queues.
 */
import { describe, expect, it } from "vitest";
import { internalCommand } from "../../lib/commands/command.js";
import { Entry } from "../../lib/connection/entry.js";
import { FlushScheduler } from "../../lib/connection/scheduler.js";
import { WriteQueue } from "../../lib/connection/writeQueue.js";

const entry = (now: number, flags = 0) => new Entry(internalCommand("ping"), now + 1000, 1000, flags, now);
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe("WriteQueue", () => {
  it("says write now only once the oldest queued entry has waited maxWriteDelayMs", () => {
    const queue = new WriteQueue(new FlushScheduler(), 1, () => undefined);
    expect(queue.add(entry(100), 100)).toBe(false);
    expect(queue.add(entry(100.5), 100.5)).toBe(false);
    expect(queue.add(entry(101), 101)).toBe(true);
    expect(queue.take()).toHaveLength(3);
    // Timed from the first entry queued after the queue was emptied.
    expect(queue.add(entry(101.2), 101.2)).toBe(false);
    expect(queue.length).toBe(1);
  });

  it("never says so with an infinite delay", () => {
    const queue = new WriteQueue(new FlushScheduler(), 0, () => undefined);
    expect(queue.add(entry(0), 5)).toBe(true);
    const patient = new WriteQueue(new FlushScheduler(), Infinity, () => undefined);
    expect(patient.add(entry(0), 0)).toBe(false);
    expect(patient.add(entry(0), 1e9)).toBe(false);
  });

  it("asks the scheduler for one write per turn however often it is marked", async () => {
    let writes = 0;
    const queue = new WriteQueue(new FlushScheduler(), Infinity, () => writes++);
    for (let i = 0; i < 5; i++) {
      queue.add(entry(i), i);
      queue.markDirty();
    }
    expect(writes).toBe(0);
    await nextTurn();
    expect(writes).toBe(1);
    queue.markDirty();
    await nextTurn();
    expect(writes).toBe(2);
  });

  it("keeps retries behind what is queued, and drops what retain refuses", () => {
    const queue = new WriteQueue(new FlushScheduler(), Infinity, () => undefined);
    const [a, b, c] = [entry(0), entry(0), entry(0)];
    queue.add(a, 0);
    queue.requeue(b);
    queue.add(c, 0);
    queue.retain((e) => e !== c);
    expect(queue.take()).toEqual([a, b]);
    expect(queue.length).toBe(0);
  });
});
