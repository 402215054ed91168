/**
 * bull 4, unchanged: its createClient hands out the sharded client (client)
 * and duplicates of it (subscriber, bclient), with a hash-tagged prefix so a
 * queue's keys share a shard. queue.process() writes
 * bclient.options.connectionName before CLIENT SETNAME, as it does on an
 * ioredis client; jobs are added, processed and counted through Redis.
 */
import { describe, expect, it } from "vitest";
import Queue from "bull";
import { fleetWithClient, watchUnhandled } from "../support/fleet.js";

describe("bull 4 over shards", () => {
  const ctx = fleetWithClient(3, { commandTimeoutMs: 5000 });

  it("processes jobs, names its blocking connection, and keeps every key on the prefix's shard", async () => {
    const unhandled = watchUnhandled();
    const made: Array<{ quit(): Promise<unknown> }> = [];
    const queue = new Queue("jobs", {
      prefix: "{bull}",
      createClient: (type) => {
        if (type === "client") return ctx.client as never;
        const duplicate = ctx.client.duplicate();
        made.push(duplicate);
        return duplicate as never;
      },
    });
    try {
      const done = new Promise<number[]>((resolve) => {
        const results: number[] = [];
        queue.on("completed", (_job, result: number) => results.push(result) === 3 && resolve(results.sort((a, b) => a - b)));
      });
      void queue.process(async (job) => (job.data as { n: number }).n * 2);
      await Promise.all([21, 5, 100].map((n) => queue.add({ n })));
      expect(await done).toEqual([10, 42, 200]);
      expect(await queue.getJobCounts()).toMatchObject({ completed: 3, waiting: 0, active: 0, failed: 0 });
      const home = Number(ctx.client.shardOf("{bull}:jobs:id").slice(1));
      expect(await ctx.fleet.raw(home).get("{bull}:jobs:id")).toBe("3");
      const others = [0, 1, 2].filter((i) => i !== home);
      expect(await Promise.all(others.map((i) => ctx.fleet.raw(i).dbsize()))).toEqual([0, 0]);
      // process() named its blocking connection through the options, then CLIENT SETNAME.
      const bclient = (queue as unknown as { bclient: { options: { connectionName?: string } } }).bclient;
      expect(bclient.options.connectionName).toMatch(/^\{bull\}:/);
      expect(unhandled.errors).toEqual([]);
    } finally {
      unhandled.stop();
      await queue.close();
      await Promise.all(made.map((c) => c.quit().catch(() => undefined)));
    }
  });
});
