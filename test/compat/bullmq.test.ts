/**
 * BullMQ, unchanged, given the sharded client as its connection with a
 * hash-tagged prefix: every key of a queue lives on one shard, its scripts
 * ("addStandardJob:6.7.0", ...) run there through defineCommand, the worker's
 * blocking connection is a duplicate(), and queue events come from XREAD
 * BLOCK on the queue's shard.
 */
import { describe, expect, it } from "vitest";
import { Queue, QueueEvents, Worker } from "bullmq";
import { fleetWithClient } from "../support/fleet.js";

describe("BullMQ over shards", () => {
  const ctx = fleetWithClient(3, { commandTimeoutMs: 5000 });

  it("adds, processes and reports jobs; every queue key lives on the shard of the prefix's hash tag", async () => {
    const prefix = "{bull}";
    const connection = ctx.client as never;
    const queue = new Queue("jobs", { connection, prefix });
    // From the stream's start ("$" by default): under load the first XREAD BLOCK can be issued after the jobs have finished,
    // and their events, already written, would never be read (waitUntilFinished then times out).
    const events = new QueueEvents("jobs", { connection, prefix, lastEventId: "0-0" });
    const worker = new Worker("jobs", async (job) => (job.data as { n: number }).n * 2, { connection, prefix });
    try {
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);
      const jobs = await Promise.all([21, 5, 100].map((n) => queue.add("double", { n })));
      const results = await Promise.all(jobs.map((job) => job.waitUntilFinished(events, 20_000)));
      expect(results).toEqual([42, 10, 200]);
      expect(await queue.getJobCounts("completed")).toEqual({ completed: 3 });
      const home = Number(ctx.client.shardOf("{bull}:jobs:id").slice(1));
      const others = [0, 1, 2].filter((i) => i !== home);
      expect(await ctx.fleet.raw(home).exists("{bull}:jobs:id")).toBe(1);
      expect(await Promise.all(others.map((i) => ctx.fleet.raw(i).dbsize()))).toEqual([0, 0]);
    } finally {
      await worker.close();
      await events.close();
      await queue.close();
    }
    expect(ctx.client.status).toBe("ready");
  });
});
